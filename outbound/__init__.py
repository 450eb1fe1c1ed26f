"""Outbound Teams: the Bot Connector client, the notifier (proactive messages), delivery of the outbox, and the organizer's note pages."""
