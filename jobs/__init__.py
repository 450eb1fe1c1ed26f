"""The job worker (runs queued work on any instance) and the daily retention purge."""
