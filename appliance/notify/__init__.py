"""Notifications: a durable outbox in the encrypted store, sent by e-mail, SMS or in-app."""
