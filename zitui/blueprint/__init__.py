"""Blueprints: declarative, idempotent provisioning from a TOML file (`zitui apply`)."""
