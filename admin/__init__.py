"""The operator's tools: `python app.py doctor` checks a deployment and says what to fix."""
