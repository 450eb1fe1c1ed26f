"""Property-based fuzzing of /api/messages: malformed and hostile activities grown from real
Teams shapes (messages, commands, meeting events, card actions, installs), posted over HTTP to
the real app in dev mode and with authentication on (tokens from the identity stand-in).

For every activity: no 5xx, no traceback in the log; for every refused one (4xx), nothing
written to the database. /healthz answers 200 throughout.

The normal run tries CHAPERONE_FUZZ_EXAMPLES (default 150) activities per mode; the long run:
    CHAPERONE_FUZZ_EXAMPLES=10000 .venv/bin/python -m pytest -m fuzz -s
prints the figures (responses by status, 5xx, tracebacks, time).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from standins.identity import ChannelIdentityStandIn
from standins.teams import TeamsSimulator

from .helpers import MATHS, PUPIL_A, SLT, SLT_CHANNEL, SLT_TEAM, T0, TEACHER, app_in_thread, dev_env, lobby_off_lesson

pytestmark = [pytest.mark.e2e, pytest.mark.fuzz, pytest.mark.filterwarnings("ignore:Generating overly large repr")]

EXAMPLES = int(os.environ.get("CHAPERONE_FUZZ_EXAMPLES", "150"))
APP_ID = "3f6a5c1e-1111-4222-8333-944455556666"
OTHER_TENANT = "9d0c0b0a-0000-4000-8000-0000000000ff"


class Raw(str):
    """JSON text put into the body as it is (what json.dumps cannot or will not write)."""


# ---- what is generated ---------------------------------------------------------------------


def bases(service_url: str) -> list[dict]:
    """Real Teams shapes, as the stand-in's builders make them."""
    teams = TeamsSimulator("http://unused", service_url)
    elsewhere = TeamsSimulator("http://unused", service_url, tenant_id=OTHER_TENANT)
    channel = {"conversation_id": SLT_CHANNEL, "conversation_type": "channel"}
    return [
        teams.personal_message("help", TEACHER),
        teams.personal_message("status", TEACHER),
        teams.personal_message("sign", TEACHER),
        teams.channel_message("set alert channel", SLT, team_id=SLT_TEAM, channel_id=SLT_CHANNEL),
        teams.channel_message("set concern channel", SLT, team_id=SLT_TEAM, channel_id=SLT_CHANNEL),
        elsewhere.channel_message("set alert channel", SLT, team_id=SLT_TEAM, channel_id=SLT_CHANNEL),
        teams.meeting_start(MATHS, T0),
        teams.meeting_end(MATHS, T0),
        teams.join(MATHS, [TEACHER, PUPIL_A], T0),
        teams.leave(MATHS, [PUPIL_A], T0),
        teams.card_action("teacherView", {"warningId": 2}, TEACHER, conversation_id=MATHS.thread_id),
        teams.card_action("reportConcern", {"lessonId": 1, "concern": "worried"}, PUPIL_A, conversation_id=MATHS.thread_id),
        teams.card_action("acknowledge", {"alertId": 3}, SLT, **channel),
        teams.card_action("resolve", {"alertId": 3}, SLT, **channel),
        teams.card_action("recordException", {"alertId": 3, "reason": "ok", "expires": "2099-01-01"}, SLT, **channel),
        teams.card_action("signAup", {"version": "x", "sha256": "y", "name": "n", "position": "p", "understood": "true"}, TEACHER,
                          conversation_id=f"a:{TEACHER.teams_id}", conversation_type="personal"),
        teams.card_action("openAup", {}, TEACHER, conversation_id=f"a:{TEACHER.teams_id}", conversation_type="personal"),
        teams.installation(SLT, team_id=SLT_TEAM, channel_id=SLT_CHANNEL),
        teams.installation(TEACHER),
    ]


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 10), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20), st.sampled_from(["", " ", "\ud800", "a\udfffb", "a\x00b", "19:x@thread.v2", "2099-01-01", "9999-12-31T23:59:59Z",
                                           "http://evil.example\\@127.0.0.1/", "<at>Chaperone</at> help", "x" * 3000]),
)
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=12)
hostile = st.one_of(
    json_values, json_values, json_values, scalars, scalars,  # mostly values the body parser accepts, to reach the handlers
    st.builds(lambda n: Raw("[" * n + "]" * n), st.integers(30, 20000)),  # deep nesting
    st.builds(lambda n: Raw("9" * n), st.integers(19, 6000)),  # integers past 64 bits, and past Python's limit
    st.sampled_from([Raw("NaN"), Raw("Infinity"), Raw("-1e999")]),
    st.integers(2**31 - 2, 2**63 + 2), st.integers(-(2**63) - 2, -(2**31)),
)


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*prefix, index))
    return found


def mutate(activity: dict, path: tuple, how: str, value: Any) -> Any:
    if not path:
        return value if how == "replace" else activity
    parent = activity
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if how == "delete":
        del parent[last]
    elif how == "replace":
        parent[last] = value
    elif isinstance(parent[last], dict):  # "add": a new key beside the others
        parent[last][f"x{len(parent[last])}"] = value
    else:
        parent[last] = value
    return activity


def encode(body: Any) -> bytes:
    raws: list[Raw] = []

    def swap(node: Any) -> Any:
        if isinstance(node, Raw):
            raws.append(node)
            return f"\x01RAW{len(raws) - 1}\x01"
        if isinstance(node, dict):
            return {k: swap(v) for k, v in node.items()}
        if isinstance(node, list):
            return [swap(v) for v in node]
        return node

    text_ = json.dumps(swap(body))  # ensure_ascii: lone surrogates go as \\ud800 escapes
    for index, raw in enumerate(raws):
        text_ = text_.replace(json.dumps(f"\x01RAW{index}\x01"), raw)
    return text_.encode("ascii")


@st.composite
def activities(draw, service_url: str) -> Any:
    activity = json.loads(json.dumps(draw(st.sampled_from(bases(service_url)))))
    for _ in range(draw(st.integers(1, 3))):
        if not isinstance(activity, dict):
            break
        path = draw(st.sampled_from(paths(activity)))
        activity = mutate(activity, path, draw(st.sampled_from(["replace", "replace", "delete", "add"])), draw(hostile))
    return activity


# ---- what is checked ---------------------------------------------------------------------------


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.tracebacks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or "Traceback" in record.getMessage():
            self.tracebacks.append(f"{record.name}: {record.getMessage()[:300]}")


async def fingerprint(services) -> tuple:
    """What a write would change: every table's row count, and SQLite's count of rows changed
    on its one connection (so an update that leaves the counts alone is seen too)."""
    from store.tables import Base

    async with services.engine.connect() as conn:
        counts = tuple([(await conn.execute(select(func.count()).select_from(table))).scalar_one() for table in Base.metadata.tables.values()])
        changes = (await conn.execute(text("SELECT total_changes()"))).scalar_one()
    return counts, changes


def fuzz(threaded, service_url: str, token, mode: str) -> None:
    session = requests.Session()
    url = f"{threaded.app.url}/api/messages"
    statuses: Counter = Counter()
    refused_but_written: list[str] = []
    handler = Captured()
    logging.getLogger().addHandler(handler)
    started = time.monotonic()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
    @given(activity=activities(service_url), authorization=st.sampled_from(["token", "token", "token", "none", "garbage"]))
    def one(activity, authorization):
        headers = {"Content-Type": "application/json"}
        if token and authorization == "token":
            claimed = activity.get("serviceUrl") if isinstance(activity, dict) else None
            headers["Authorization"] = f"Bearer {token(claimed if isinstance(claimed, str) else '')}"
        elif authorization == "garbage":
            headers["Authorization"] = "Bearer e30.e30.x"
        before = threaded.run(fingerprint(threaded.app.services))
        response = session.post(url, data=encode(activity), headers=headers, timeout=30)
        statuses[response.status_code] += 1
        assert response.status_code < 500, response.text[:300]
        if 400 <= response.status_code < 500:
            after = threaded.run(fingerprint(threaded.app.services))
            if after != before:
                refused_but_written.append(f"{response.status_code} {response.text[:200]}")
            assert after == before, response.text[:300]
        if sum(statuses.values()) % 50 == 0:
            assert session.get(f"{threaded.app.url}/healthz", timeout=10).status_code == 200

    try:
        one()
        assert session.get(f"{threaded.app.url}/healthz", timeout=10).status_code == 200
    finally:
        logging.getLogger().removeHandler(handler)
        elapsed = time.monotonic() - started
        print(f"\nfuzz {mode}: {sum(statuses.values())} activities in {elapsed:.1f} s; by status {dict(sorted(statuses.items()))}; "
              f"5xx {sum(n for s, n in statuses.items() if s >= 500)}; tracebacks {len(handler.tracebacks)}; "
              f"refused but written {len(refused_but_written)}")
    assert handler.tracebacks == []


def prepared(threaded, connector, graph) -> None:
    """A lesson with its cards, so card actions name real records; then the worker stops, so
    the only writes are the ones the fuzzed activities make."""
    threaded.run(lobby_off_lesson(threaded.app, connector, graph))
    threaded.run(threaded.app.services.worker.stop())


def test_fuzz_in_dev_mode(database_url, connector, graph):
    with app_in_thread(dev_env(database_url, graph.base_url), connector.url) as threaded:
        prepared(threaded, connector, graph)
        fuzz(threaded, connector.url + "/", None, "dev mode")


def test_fuzz_with_authentication_on(database_url, connector, graph):
    with ChannelIdentityStandIn() as identity:
        env = dev_env(database_url, graph.base_url, CHAPERONE_DEV_MODE="0", MicrosoftAppId=APP_ID, MicrosoftAppPassword="not-used",
                      MicrosoftAppTenantId="5f1b3a1e-0000-4000-8000-5c8001000001",
                      CHAPERONE_BOT_OPENID_METADATA_URL=identity.metadata_url, CHAPERONE_BOT_TOKEN_ISSUER=identity.issuer,
                      CHAPERONE_ALLOWED_SERVICE_HOSTS="127.0.0.1")
        token = lambda url: identity.token(APP_ID, url)  # noqa: E731
        with app_in_thread(env, connector.url, token=token) as threaded:
            prepared(threaded, connector, graph)
            fuzz(threaded, connector.url + "/", token, "authentication on")
