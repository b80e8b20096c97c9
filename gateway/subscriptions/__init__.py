"""Webhook subscriptions: where an organisation wants the change events pushed, and how they
are signed (Standard Webhooks)."""
