"""The operator console over SSH: an asyncssh server in the zitui process, one console
process per session."""
