"""Reading an HTTP body into a Bot Framework activity, refusing what Chaperone cannot store or
handle before any of it reaches the SDK, the database or a log line.

Each refusal is a `BadBody` with a short reason for the 400 answer. What is refused:

- JSON that is not JSON, nested deeper than any Teams activity is, numbers that are not
  finite or do not fit in 64 bits (the database's largest integer), and text that is not
  valid Unicode (lone surrogates, which cannot be encoded to store or log) or holds NUL
  (which PostgreSQL text cannot hold);
- an activity whose envelope has the wrong types where Chaperone reads it: `type`,
  `conversation.id`, `from`, `recipient`, `channelData`, `entities`, `text`, `name`,
  `membersAdded` / `membersRemoved`.

Teams' own activities pass all of this; the checks are bounds on what a real one looks like.
"""

from __future__ import annotations

import json
from typing import Any

from botbuilder.schema import Activity
from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_DEPTH = 32  # a Teams activity nests about 8 deep; an Adaptive Card's data a few more
INT64 = 2**63


class BadBody(ValueError):
    """A body Chaperone will not read, and why (for the 400 answer)."""


class MalformedActivity(ValueError):
    """An activity that passed authentication but that Chaperone cannot read."""


def _no_constants(name: str) -> Any:
    raise BadBody(f"the body holds {name}, which is not a JSON number")


def _int64(literal: str) -> int:
    # Checked as it is read (json calls this for each integer), so no walk is needed for it.
    value = int(literal)
    if not -INT64 <= value < INT64:
        raise BadBody("the body holds an integer too large to store")
    return value


def parse_json(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody("the body is not UTF-8") from None
    try:
        body = json.loads(text, parse_constant=_no_constants, parse_int=_int64)
    except BadBody:
        raise
    except json.JSONDecodeError as exc:
        raise BadBody(f"the body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise BadBody(f"the body is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:  # an integer too long to convert (Python's int_max_str_digits)
        raise BadBody("the body holds a number too large to read") from None
    # Decoded UTF-8 holds neither NUL nor a lone surrogate, and JSON refuses raw control
    # characters in strings: only a \u escape can put either into the text. Nesting deeper
    # than MAX_DEPTH takes at least MAX_DEPTH brackets (a value sits one deeper than its
    # innermost bracket), so a body with fewer and no escape (a Teams event: about ten
    # brackets) needs no walk.
    check_text = b"\\u" in raw
    if check_text or raw.count(b"{") + raw.count(b"[") >= MAX_DEPTH:
        _check_values(body, check_text=check_text)
    return body


def _check_values(body: Any, check_text: bool = True) -> None:
    """Walk the parsed JSON without recursion (so depth itself cannot crash the walk)."""
    pending: list[tuple[Any, int]] = [(body, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise BadBody(f"the body is nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            for key, value in node.items():
                if check_text:
                    _check_text(key)
                pending.append((value, depth + 1))
        elif isinstance(node, list):
            pending.extend((item, depth + 1) for item in node)
        elif isinstance(node, str) and check_text:
            _check_text(node)


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise BadBody("the body holds a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadBody("the body holds text that is not valid Unicode (a lone surrogate)") from None


class _Loose(BaseModel):
    # Checked, then dropped: what Chaperone does not read is neither kept nor copied.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _Account(_Loose):
    id: str | None = None
    name: str | None = None
    aad_object_id: str | None = Field(None, alias="aadObjectId")


class _Conversation(_Loose):
    id: str = Field(min_length=1, max_length=512)
    conversation_type: str | None = Field(None, alias="conversationType")
    tenant_id: str | None = Field(None, alias="tenantId")


class _Mentioned(_Loose):
    id: str | None = None


class _Entity(_Loose):
    type: str | None = None
    mentioned: _Mentioned | None = None
    text: str | None = None


class _ChannelPart(_Loose):
    id: str | None = None


class _ChannelData(_Loose):
    tenant: _ChannelPart | None = None
    team: _ChannelPart | None = None
    channel: _ChannelPart | None = None
    meeting: _ChannelPart | None = None


class Envelope(_Loose):
    """The parts of an activity Chaperone reads outside its own payload models."""

    type: str = Field(min_length=1, max_length=64)
    id: str | None = Field(None, max_length=256)
    name: str | None = None
    text: str | None = None
    service_url: str | None = Field(None, alias="serviceUrl")
    channel_id: str | None = Field(None, alias="channelId")
    reply_to_id: str | None = Field(None, alias="replyToId")
    # Teams always names the conversation, the sender and the bot (recipient): the SDK reads
    # all three without looking.
    conversation: _Conversation
    from_: _Account = Field(alias="from")
    recipient: _Account
    channel_data: _ChannelData | None = Field(None, alias="channelData")
    entities: list[_Entity] | None = None
    members_added: list[_Account] | None = Field(None, alias="membersAdded")
    members_removed: list[_Account] | None = Field(None, alias="membersRemoved")


def read_envelope(raw: bytes) -> dict:
    """The body as JSON, checked as an activity envelope (BadBody when it is not one)."""
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise BadBody("the body must be a JSON object (a Bot Framework activity)")
    if not body.get("type"):
        raise BadBody("the activity has no type")
    try:
        Envelope.model_validate(body)
    except ValidationError as exc:
        # Where and what, never the value: it may be a person's words.
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise BadBody(f"the activity is malformed: {problems}") from None
    return body


def to_activity(body: dict) -> Activity:
    """The SDK's model of a checked envelope (msrest: about a third of a millisecond)."""
    try:
        return Activity().deserialize(body)
    except Exception:  # noqa: BLE001 - msrest raises several types for bad shapes
        raise BadBody("the body is not a Bot Framework activity (a field has the wrong type)") from None


def read_activity(raw: bytes) -> Activity:
    return to_activity(read_envelope(raw))
