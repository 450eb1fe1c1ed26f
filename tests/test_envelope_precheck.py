"""parse_json walks the parsed body only when its raw text could hold what the walk refuses,
and checks integers as json reads them (issue 14: the walk was a quarter of parsing a meeting
event). Whatever it skips, the answer is that of a plain walk of every value: these compare the
two at the edges."""

from __future__ import annotations

import json

import pytest

from bot.envelope import INT64, MAX_DEPTH, BadBody, parse_json


def nested(depth: int) -> str:
    """A value `depth` deep, counted as the walk counts (the innermost value one below its list)."""
    return "[" * (depth - 1) + "1" + "]" * (depth - 1)


def full_walk(raw: bytes) -> str | None:
    """The rules, walked over every value of the parsed body without shortcuts."""
    pending = [(json.loads(raw), 1)]
    while pending:
        node, depth = pending.pop()
        if depth > MAX_DEPTH:
            return f"the body is nested deeper than {MAX_DEPTH} levels"
        if isinstance(node, dict):
            pending += [(key, depth + 1) for key in node] + [(value, depth + 1) for value in node.values()]
        elif isinstance(node, list):
            pending += [(item, depth + 1) for item in node]
        elif isinstance(node, str):
            if "\x00" in node:
                return "the body holds a NUL character"
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return "the body holds text that is not valid Unicode (a lone surrogate)"
        elif isinstance(node, int) and not isinstance(node, bool) and not -INT64 <= node < INT64:
            return "the body holds an integer too large to store"
    return None


def fast(raw: bytes) -> str | None:
    try:
        parse_json(raw)
    except BadBody as exc:
        return str(exc)
    return None


BODIES = [
    nested(MAX_DEPTH),
    nested(MAX_DEPTH + 1),
    '{"a": ' + nested(MAX_DEPTH - 1) + "}",
    '{"a": ' + nested(MAX_DEPTH) + "}",
    '{"a": {"b": {"c": [' + nested(MAX_DEPTH - 3) + "]}}}",
    str(INT64 - 1),
    str(INT64),
    str(-INT64),
    str(-INT64 - 1),
    "[" + str(INT64) + "]",
    '{"id": 9223372036854775807, "n": 9223372036854775808}',
    '{"float": 12345678901234567890.5}',
    '{"text": "a\\u0000b"}',
    '{"text": "\\ud800"}',
    '{"text": "\\ud83d\\ude00"}',
    '{"text": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "n": 1}',
    '{"type": "event", "value": {"members": [{"user": {"id": "29:x"}}]}}',
]


@pytest.mark.parametrize("body", BODIES)
def test_the_answer_is_the_full_walks(body):
    raw = body.encode()
    assert fast(raw) == full_walk(raw)


def test_the_edges_are_where_the_walk_puts_them():
    # A guard on the comparison above: these are refused and accepted by the walk itself.
    assert fast(nested(MAX_DEPTH).encode()) is None
    assert "nested deeper" in fast(nested(MAX_DEPTH + 1).encode())
    assert fast(str(INT64 - 1).encode()) is None
    assert "too large" in fast(str(INT64).encode())
    assert "NUL" in fast(b'{"text": "a\\u0000b"}')
