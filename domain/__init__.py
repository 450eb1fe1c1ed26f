"""Chaperone's own vocabulary: pydantic models shared by bot/, graph/, rules/, store/ and cards/.

Nothing here knows about Teams, Graph or the database.
"""
