"""The cards Chaperone delivers (the outbox), and what SLT did with each breach alert."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from .findings import StoredFinding
from .lesson import Presence


class MessageKind(StrEnum):
    reminder = "reminder"  # behaviour expectations, in the meeting chat at the start
    teacher_warning = "teacher-warning"  # the organizer's note: what failed and what to do
    slt_alert = "slt-alert"  # a breach, in the SLT channel
    summary = "summary"  # the lesson record, to the organizer at the end
    concern = "concern"  # a reported concern, to the DSL only
    chats_report = "chats-report"  # the weekly staff-pupil chats report, to the DSL only
    coverage_summary = "coverage-summary"  # the day's coverage, unmonitored sessions named, to SLT
    reply = "reply"  # an answer in a turn that could not be sent then (Bot Connector or Entra down)
    escalation = "escalation"  # a school's breach alert nobody acted on in time, to the trust's leads


class Destination(StrEnum):
    meeting = "meeting"  # the lesson's meeting chat
    slt_channel = "slt-channel"  # the channel SLT chose with `set alert channel`
    organizer = "organizer"  # a 1:1 chat with the lesson's organizer
    dsl = "dsl"  # the DSL's concern channel, or 1:1 chats with each DSL
    conversation = "conversation"  # back where a person wrote (a reply), by the reference kept with it
    trust_leads = "trust-leads"  # the trust default policy's alert channel, and each trust lead 1:1


class DeliveryStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"  # kept, listed by `alerts --undelivered` and counted by /healthz
    # An operator decided it will not be delivered (`alerts dismiss ID --reason`, audited):
    # kept for the record, no longer counted as undelivered.
    dismissed = "dismissed"


class OperatorOutcome(StrEnum):
    """What `alerts retry` or `alerts dismiss` did to one card."""

    done = "done"
    unknown = "unknown"  # no such card
    already_sent = "already-sent"
    already_dismissed = "already-dismissed"
    still_trying = "still-trying"  # pending: its delivery job is queued or retrying already


class RaisedFinding(BaseModel):
    """A finding as it was when an alert or warning raised it, and who was present then: what
    the card shows for good, whatever the verdict says later."""

    model_config = ConfigDict(frozen=True)

    finding: StoredFinding
    present: Presence


class Message(BaseModel):
    """A card Chaperone must deliver, kept after it is sent, for the record."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    lesson_id: int | None
    kind: MessageKind
    destination: Destination
    card: dict
    summary: str
    finding_ids: list[int]
    raised: list[RaisedFinding] | None = None  # None: a message from before Chaperone kept them
    status: DeliveryStatus
    service_url: str | None
    attempts: int
    last_error: str | None
    conversation_id: str | None
    activity_id: str | None
    created_at: datetime
    sent_at: datetime | None
    # The school whose record this is (None: from before schools, or the service's own).
    school_id: str | None = None


class AlertAction(StrEnum):
    acknowledge = "acknowledge"
    resolve = "resolve"
    clear = "clear"  # Chaperone's later verdict (the attendance report) no longer finds the breach
    exception = "exception"  # an approved exception recorded from the alert


class AlertState(BaseModel):
    """What SLT or the DSL did with one breach alert (its own record, keyed by the alert)."""

    model_config = ConfigDict(from_attributes=True)

    alert_id: int
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    exception_id: int | None = None
    exception_by: str | None = None
    cleared_at: datetime | None = None
    cleared_reason: str | None = None
