"""Adaptive Card builders: one module per card, schema 1.5, built from Chaperone's models.
No I/O here: a builder returns the exact JSON that is sent."""
