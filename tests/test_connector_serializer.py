"""A card sent through a reused connector client is serialised as msrest would serialise it
(bot/adapter.py `_JsonObjects` copies plain JSON through the json module instead)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from botbuilder.schema import Activity, ChannelAccount, ConversationAccount
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import MicrosoftAppCredentials
from msrest.serialization import Serializer

from bot.adapter import _JsonObjects, _with_json_objects
from cards import reminder
from config.policy import load_policy
from outbound.activities import card_activity

from .helpers import POLICY


def card_message() -> Activity:
    activity = card_activity(reminder.reminder_card(load_policy(POLICY), "Year 9 maths", 7), "Online lesson expectations")
    activity.conversation = ConversationAccount(id="19:meeting_x@thread.v2")
    activity.from_property = ChannelAccount(id="28:bot")
    activity.channel_data = {"notification": {"alert": True}, "tenant": {"id": "tenant"}, "counts": [1, 2.5, None, False]}
    return activity


def models() -> dict:
    return ConnectorClient(MicrosoftAppCredentials("", ""), "https://smba.example/")._serialize.dependencies


def test_a_card_is_serialised_exactly_as_msrest_serialises_it():
    activity = card_message()
    assert _JsonObjects(models()).body(activity, "Activity") == Serializer(models()).body(activity, "Activity")


def test_an_object_that_is_not_plain_json_takes_msrests_own_path():
    activity = card_message()
    activity.value = {"when": datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc), "nested": [{"at": datetime(2026, 1, 1)}]}
    body = _JsonObjects(models()).body(activity, "Activity")
    assert body == Serializer(models()).body(activity, "Activity")
    assert body["value"]["when"] == "2026-11-23T09:00:00.000Z"


def test_a_reused_client_serialises_with_json_objects_in_every_operation_group():
    client = _with_json_objects(ConnectorClient(MicrosoftAppCredentials("", ""), "https://smba.example/"))
    assert all(isinstance(s, _JsonObjects) for s in (client._serialize, client.conversations._serialize, client.attachments._serialize))


def test_without_msrests_validation_pass_a_missing_conversation_id_still_raises():
    client = _with_json_objects(ConnectorClient(MicrosoftAppCredentials("", ""), "https://smba.example/"))
    assert client._serialize.client_side_validation is False
    with pytest.raises(ValueError):
        client._serialize.url("conversation_id", None, "str")
