"""Notifications that are never lost: a durable outbox, its sender and its transports."""
