"""Prometheus metrics (`GET /metrics`), in a registry of Chaperone's own.

Labels are kinds, rule ids, statuses and routes: a small fixed set each, never ids or names,
so nobody can grow the series by sending odd activities.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from . import context

REGISTRY = CollectorRegistry(auto_describe=True)
CONTENT_TYPE = CONTENT_TYPE_LATEST

EVENTS = Counter("chaperone_events_received", "Activities accepted from Teams, by kind", ["kind"], registry=REGISTRY)
HTTP_SECONDS = Histogram("chaperone_http_request_duration_seconds", "HTTP request latency", ["route", "method", "status"],
                         registry=REGISTRY)
JOBS = Gauge("chaperone_jobs", "Follow-up jobs waiting (queued) or running, by kind, across every instance",
             ["kind", "state"], registry=REGISTRY)
JOB_SECONDS = Histogram("chaperone_job_duration_seconds", "Time a job took on this instance, by kind", ["kind"],
                        buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180), registry=REGISTRY)
GRAPH_REQUESTS = Counter("chaperone_graph_requests", "Requests to Microsoft Graph (each $batch, and each request inside one), by status", ["status"], registry=REGISTRY)
GRAPH_THROTTLED = Counter("chaperone_graph_throttled", "Graph answers of 429 (throttled)", registry=REGISTRY)
CARDS = Counter("chaperone_cards", "Cards delivered or given up on, by kind", ["kind", "outcome"], registry=REGISTRY)
VERDICTS = Counter("chaperone_verdicts", "Rule verdicts reached, by rule and status", ["rule", "status"], registry=REGISTRY)

# The activity kinds counted by name; anything else is "other" (a label per odd name would let
# a sender grow the series without bound).
EVENT_KINDS = {
    "application/vnd.microsoft.meetingstart": "meetingStart",
    "application/vnd.microsoft.meetingend": "meetingEnd",
    "application/vnd.microsoft.meetingparticipantjoin": "meetingParticipantJoin",
    "application/vnd.microsoft.meetingparticipantleave": "meetingParticipantLeave",
}
ACTIVITY_TYPES = {"message", "invoke", "conversationUpdate", "installationUpdate"}


def event_kind(activity_type: str | None, name: str | None) -> str:
    if activity_type == "event":
        return EVENT_KINDS.get((name or "").strip().lower(), "event:other")
    return activity_type if activity_type in ACTIVITY_TYPES else "other"


def event_received(activity_type: str | None, name: str | None) -> None:
    EVENTS.labels(event_kind(activity_type, name)).inc()


@contextmanager
def job(kind: str, lesson_id: int | None) -> Iterator[None]:
    """A job's time, and its lesson id on every log line it writes."""
    context.bind_lesson(lesson_id)
    started = time.perf_counter()
    try:
        yield
    finally:
        JOB_SECONDS.labels(kind).observe(time.perf_counter() - started)


async def graph_response(response) -> None:
    """httpx response hook on the Graph client: every request, including the SDK's retries."""
    graph_answer(response.status_code)


def graph_answer(status: int) -> None:
    """One answer from Graph: to a request of its own, or to one inside a $batch."""
    GRAPH_REQUESTS.labels(str(status)).inc()
    if status == 429:
        GRAPH_THROTTLED.inc()


def verdicts_reached(findings) -> None:
    """Each rule's verdict from one evaluation (anything with `rule_id` and an enum `status`)."""
    for finding in findings:
        VERDICTS.labels(finding.rule_id, finding.status.value).inc()


def set_jobs(counts: dict[tuple[str, str], int]) -> None:
    """The job gauges from the database's answer, (kind, state) -> count, at scrape time."""
    JOBS.clear()
    for (kind, state), count in counts.items():
        JOBS.labels(kind, state).set(count)


def exposition() -> bytes:
    return generate_latest(REGISTRY)
