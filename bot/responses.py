"""The one place invoke responses are built (Adaptive Card Universal Actions).

Teams reads the body: a card replaces the one acted on, a message is shown to the person who
acted, and an error is shown with its message. The HTTP status matches the body's statusCode.
bot/adapter.py returns these dict bodies as they are (botbuilder 4.17 would answer 500).
"""

from __future__ import annotations

from http import HTTPStatus

from botbuilder.core import InvokeResponse

from cards.common import CONTENT_TYPE

MESSAGE = "application/vnd.microsoft.activity.message"
ERROR = "application/vnd.microsoft.error"


def card_response(card: dict) -> InvokeResponse:
    return InvokeResponse(status=200, body={"statusCode": 200, "type": CONTENT_TYPE, "value": card})


def message_response(text: str) -> InvokeResponse:
    return InvokeResponse(status=200, body={"statusCode": 200, "type": MESSAGE, "value": text})


def error_response(status: HTTPStatus, text: str) -> InvokeResponse:
    """A refusal with a reason a person can read: bad card data, an unknown message, the
    wrong kind of message for the action. Nothing was changed."""
    body = {"statusCode": status.value, "type": ERROR, "value": {"code": status.phrase.replace(" ", ""), "message": text}}
    return InvokeResponse(status=status.value, body=body)
