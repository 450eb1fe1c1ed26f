"""Graph reads asked at about the same moment go in one $batch (graph/batch.py), over real HTTP
to the Graph stand-in: msgraph-sdk's adapter, the stand-in's JSON batching."""

from __future__ import annotations

import asyncio
import json

import pytest

from config.settings import Settings
from graph.batch import BatchRequest
from graph.calendar import CalendarReader
from graph.client import GraphClient, GraphUnavailable
from graph.meetings import MeetingReader
from graph.people import PeopleDirectory
from domain.lesson import PersonClass
from tests.helpers import MATHS, PUPIL_A, TEACHER, T0, script

pytestmark = pytest.mark.e2e


def client_for(graph, **settings) -> GraphClient:
    return GraphClient(Settings(CHAPERONE_DEV_MODE="1", CHAPERONE_GRAPH_BASE_URL=graph.base_url, **settings))


async def test_a_lesson_starts_lookups_asked_together_are_one_batch(connector, graph):
    script(graph, connector)
    client = client_for(graph)
    try:
        people = PeopleDirectory(client)
        settings, event, organizer = await asyncio.gather(
            MeetingReader(client).settings(TEACHER.aad_object_id, MATHS.graph_id, MATHS.join_url),
            CalendarReader(client).event_for(TEACHER.aad_object_id, MATHS.join_url, T0),
            people.classify(TEACHER.aad_object_id),
        )
    finally:
        await client.close()
    assert settings.graph_meeting_id == MATHS.graph_id and event is not None and organizer.classification is PersonClass.staff
    # Three questions, one request to Graph; each still answered by its own route.
    [batch] = graph.requests("POST", "/v1.0/$batch")
    assert len(batch.body["requests"]) == 3
    assert len(graph.requests("GET", f"/v1.0/users/{TEACHER.aad_object_id}/onlineMeetings/")) == 1
    assert len(graph.requests("GET", f"/v1.0/users/{TEACHER.aad_object_id}/calendarView")) == 1
    assert len(graph.requests("GET", f"/v1.0/education/users/{TEACHER.aad_object_id}")) == 1


async def test_more_than_twenty_at_once_go_in_batches_of_twenty(graph):
    for n in range(45):
        graph.add_person(f"aad-batch-{n:02d}", primary_role="student")
    client = client_for(graph)
    try:
        answers = await PeopleDirectory(client).classify_many([f"aad-batch-{n:02d}" for n in range(45)])
    finally:
        await client.close()
    assert {a.classification for a in answers.values()} == {PersonClass.pupil}
    batches = graph.requests("POST", "/v1.0/$batch")
    assert sorted(len(b.body["requests"]) for b in batches) == [5, 20, 20]


async def test_a_throttled_request_in_a_batch_is_asked_again_after_its_retry_after_and_the_others_are_not(graph):
    graph.add_person(PUPIL_A.aad_object_id, primary_role="student")
    graph.add_person(TEACHER.aad_object_id, primary_role="teacher")
    graph.fail_next("GET", f"/education/users/{PUPIL_A.aad_object_id}", 429, headers={"Retry-After": "0.2"})
    client = client_for(graph)
    try:
        answers = await PeopleDirectory(client).classify_many([PUPIL_A.aad_object_id, TEACHER.aad_object_id])
    finally:
        await client.close()
    assert answers[PUPIL_A.aad_object_id].classification is PersonClass.pupil
    assert answers[TEACHER.aad_object_id].classification is PersonClass.staff
    assert len(graph.requests("GET", f"/v1.0/education/users/{PUPIL_A.aad_object_id}")) == 2
    assert len(graph.requests("GET", f"/v1.0/education/users/{TEACHER.aad_object_id}")) == 1
    assert len(graph.requests("POST", "/v1.0/$batch")) == 2


async def test_a_batch_graph_does_not_answer_is_could_not_verify_for_each_question_in_its_own_words(connector, graph):
    script(graph, connector)
    graph.slow("/$batch", 1.5)
    client = client_for(graph, CHAPERONE_GRAPH_TIMEOUT_SECONDS="1")
    try:
        settings, calendar = await asyncio.gather(
            MeetingReader(client).settings(TEACHER.aad_object_id, MATHS.graph_id, MATHS.join_url),
            CalendarReader(client).event_for(TEACHER.aad_object_id, MATHS.join_url, T0),
            return_exceptions=True,
        )
    finally:
        await client.close()
    assert isinstance(settings, GraphUnavailable) and settings.reason == "meeting settings: Graph did not answer within 1 s"
    assert isinstance(calendar, GraphUnavailable) and calendar.reason == "calendar: Graph did not answer within 1 s"


async def test_two_callers_may_use_the_same_request_id(graph):
    graph.add_person("aad-one", primary_role="student")
    graph.add_person("aad-two", primary_role="teacher")
    client = client_for(graph)
    try:
        one, two = await asyncio.gather(
            client.batch([BatchRequest(id="me", url="/education/users/aad-one")], "one"),
            client.batch([BatchRequest(id="me", url="/education/users/aad-two")], "two"),
        )
    finally:
        await client.close()
    assert one["me"].body["primaryRole"] == "student" and two["me"].body["primaryRole"] == "teacher"
    assert len(graph.requests("POST", "/v1.0/$batch")) == 1


def test_an_answer_that_cannot_be_read_is_its_own_requests_failure_not_its_neighbours():
    from graph.batch import _read

    raw = json.dumps({"responses": [
        {"id": "0", "status": 200, "body": {"primaryRole": "student"}},
        {"id": "1", "status": 200, "body": "not an object"},
    ]}).encode()
    ok, unreadable, missing = _read(raw, ["0", "1", "2"])
    assert ok.ok and ok.body == {"primaryRole": "student"}
    assert unreadable.status == 502 and "could not be read" in unreadable.unavailable("education role").reason
    assert missing.status == 502 and "left out" in missing.unavailable("education role").reason
