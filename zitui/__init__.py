"""zitui: a self-hosted identity provider with an operator TUI."""

__version__ = "0.1.0"
