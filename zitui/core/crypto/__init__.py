"""Cryptography: password hashing, the master key, token digests and signing keys."""
