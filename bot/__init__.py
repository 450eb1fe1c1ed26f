"""Inbound Teams: the Bot Framework adapter and authentication, event parsing, the activity handler, card actions and commands."""
