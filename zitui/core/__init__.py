"""The core: business rules, permission checks and audit. No web or terminal imports here."""
