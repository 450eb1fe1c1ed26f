"""What the school's monitoring reads: structured logs with correlation ids, and metrics.

Imports nothing of Chaperone's, so every folder may use it. Log lines and metric labels carry
ids and kinds, never names, titles or anyone's words.
"""
