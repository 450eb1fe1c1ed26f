"""Database tables. Times are stored as timezone-aware UTC."""

from __future__ import annotations

from datetime import date, datetime, time, timezone


from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Time,
    TypeDecorator,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UtcDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (which keeps no zone) too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC datetimes")
        value = value.astimezone(timezone.utc)
        # SQLite compares datetimes as text, so store them all the same way: naive UTC.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    pass


class LessonRow(Base):
    """One lesson: one occurrence of a Teams meeting, from its start to its end."""

    __tablename__ = "lessons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meeting_id: Mapped[str] = mapped_column(String(512), index=True)
    title: Mapped[str | None] = mapped_column(String(512))
    organizer_aad_id: Mapped[str | None] = mapped_column(String(64))
    organizer_name: Mapped[str | None] = mapped_column(String(256))
    organizer_upn: Mapped[str | None] = mapped_column(String(256))
    organizer_teams_id: Mapped[str | None] = mapped_column(String(256))
    join_url: Mapped[str | None] = mapped_column(Text)
    meeting_type: Mapped[str | None] = mapped_column(String(64))
    graph_meeting_id: Mapped[str | None] = mapped_column(String(512))
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    conversation_id: Mapped[str | None] = mapped_column(String(512))
    service_url: Mapped[str | None] = mapped_column(String(512))
    scheduled_start: Mapped[datetime | None] = mapped_column(UtcDateTime())
    scheduled_end: Mapped[datetime | None] = mapped_column(UtcDateTime())
    actual_start: Mapped[datetime | None] = mapped_column(UtcDateTime())
    actual_end: Mapped[datetime | None] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16))
    start_event_missing: Mapped[bool] = mapped_column(Boolean, default=False)
    end_event_missing: Mapped[bool] = mapped_column(Boolean, default=False)
    # Each look-up about the meeting: domain.lookups.Lookup as JSON (outcome and reason).
    details_lookup: Mapped[dict | None] = mapped_column(JSON)
    # What Graph said about the meeting (domain.meeting.MeetingSettings as JSON).
    meeting_settings: Mapped[dict | None] = mapped_column(JSON)
    settings_lookup: Mapped[dict | None] = mapped_column(JSON)
    # The organizer's calendar event for the lesson (domain.meeting.CalendarEvent).
    calendar_event: Mapped[dict | None] = mapped_column(JSON)
    calendar_lookup: Mapped[dict | None] = mapped_column(JSON)
    # Graph's attendance report, reconciled after the end.
    report_lookup: Mapped[dict | None] = mapped_column(JSON)
    # Ok once everyone present is classified; otherwise why not.
    roster_lookup: Mapped[dict | None] = mapped_column(JSON)
    # The meeting's recordings as Graph listed them after the end (domain.meeting.Recording list).
    recordings: Mapped[list | None] = mapped_column(JSON)
    recordings_lookup: Mapped[dict | None] = mapped_column(JSON)
    # The organizer's device from the sign-in logs (domain.meeting.OrganizerDevice), if checked.
    organizer_device: Mapped[dict | None] = mapped_column(JSON)
    organizer_device_lookup: Mapped[dict | None] = mapped_column(JSON)
    # The lesson-clock time of the last read of the meeting's settings (reads are rationed).
    settings_read_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # live (Teams' meeting events) or call-record (seen only afterwards: an unmonitored session).
    origin: Mapped[str] = mapped_column(String(16), default="live", server_default="live")
    call_record_id: Mapped[str | None] = mapped_column(String(128))
    # Which school the lesson is the record of, and how that was decided (domain.placement):
    # None while a trust's lesson waits to be placed; one no school claimed is kept under the
    # trust default policy's id with placement 'unknown'.
    school_id: Mapped[str | None] = mapped_column(String(40), index=True)
    placement: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    placement_reason: Mapped[str | None] = mapped_column(Text)
    # A channel meeting's team, as Teams named it: a class team's id is its education class id.
    class_team_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    attendance: Mapped[list["AttendanceRow"]] = relationship(
        back_populates="lesson", order_by="AttendanceRow.id", cascade="all, delete-orphan"
    )
    settings_history: Mapped[list["SettingsObservationRow"]] = relationship(
        order_by="SettingsObservationRow.observed_at, SettingsObservationRow.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        # At most one open lesson per meeting, even with several instances racing.
        Index(
            "uq_lessons_one_open_per_meeting",
            "meeting_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )


class AttendanceRow(Base):
    """One interval of one person in one lesson: a join and (eventually) a leave."""

    __tablename__ = "attendance"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[str] = mapped_column(String(128))
    aad_object_id: Mapped[str | None] = mapped_column(String(64))
    teams_user_id: Mapped[str | None] = mapped_column(String(256))
    display_name: Mapped[str | None] = mapped_column(String(256))
    upn: Mapped[str | None] = mapped_column(String(256))  # sign-in name, from the directory
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    meeting_role: Mapped[str | None] = mapped_column(String(32))
    classification: Mapped[str] = mapped_column(String(16))
    joined_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    left_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    source: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)

    lesson: Mapped[LessonRow] = relationship(back_populates="attendance")

    __table_args__ = (Index("ix_attendance_lesson_person", "lesson_id", "person_id"),)


class ParticipantEventRow(Base):
    """Every join and leave Teams delivered, as it came: the live record. The attendance
    register is rebuilt from these in event-time order, whatever order they arrived in."""

    __tablename__ = "participant_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    person_id: Mapped[str] = mapped_column(String(128))
    aad_object_id: Mapped[str | None] = mapped_column(String(64))
    teams_user_id: Mapped[str | None] = mapped_column(String(256))
    display_name: Mapped[str | None] = mapped_column(String(256))
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(32))
    joined: Mapped[bool] = mapped_column(Boolean)
    # Teams' `inMeeting` after this event, where it sends it (a second device keeps it true).
    in_meeting: Mapped[bool | None] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_participant_events_lesson_person", "lesson_id", "person_id"),)


class SettingsObservationRow(Base):
    """The meeting's settings each time a read found them changed, with the lesson-clock time."""

    __tablename__ = "settings_observations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    observed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    settings: Mapped[dict] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(32))  # start | refresh | end | remediation


class ProcessedActivityRow(Base):
    """Every meeting activity applied, by its delivery key: Teams may deliver one twice."""

    __tablename__ = "processed_activities"

    activity_key: Mapped[str] = mapped_column(String(700), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    meeting_id: Mapped[str | None] = mapped_column(String(512))
    lesson_id: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class InboundEventRow(Base):
    """The meeting-event log: each meeting activity Teams delivered, appended in its HTTP turn
    (group commit) and derived into the register by the workers, per meeting, in event-time
    order. The activity key makes a redelivery a no-op; once derived, the activity itself is
    dropped (the register holds what it said) and the key stays for the delivery log's days."""

    __tablename__ = "inbound_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    activity_key: Mapped[str | None] = mapped_column(String(700), unique=True)
    meeting_id: Mapped[str] = mapped_column(String(512))
    kind: Mapped[str] = mapped_column(String(16))  # domain.events.EventKind
    event_at: Mapped[datetime] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The activity's JSON as it arrived (not parsed and written again in the HTTP turn).
    activity: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    error: Mapped[str | None] = mapped_column(String(500))  # set aside: why it could not be applied

    __table_args__ = (
        Index("ix_inbound_events_waiting", "meeting_id", "event_at",
              sqlite_where=text("processed_at IS NULL"), postgresql_where=text("processed_at IS NULL")),
    )


class DirectoryEntryRow(Base):
    """The directory's answer about a person (staff, pupil, external), cached for every
    instance and across restarts until `expires_at`; purged when it expires."""

    __tablename__ = "directory_cache"

    aad_object_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    classification: Mapped[str] = mapped_column(String(16))
    upn: Mapped[str | None] = mapped_column(String(256))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class ConversationRow(Base):
    """Where Chaperone is installed, with what it needs to message there later."""

    __tablename__ = "conversations"

    conversation_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))  # personal | groupChat | team | channel
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    team_id: Mapped[str | None] = mapped_column(String(512))
    channel_id: Mapped[str | None] = mapped_column(String(512))
    service_url: Mapped[str] = mapped_column(String(512))
    # Bot Framework ConversationReference as JSON, tenant id included (the SDK drops it).
    reference: Mapped[dict] = mapped_column(JSON)
    installed: Mapped[bool] = mapped_column(Boolean, default=True)
    installed_by_aad_id: Mapped[str | None] = mapped_column(String(64))
    installed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AlertDestinationRow(Base):
    """Which conversation gets which kind of alert (SLT breach alerts, DSL concerns), per school."""

    __tablename__ = "alert_destinations"

    school_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.conversation_id"))
    set_by_aad_id: Mapped[str] = mapped_column(String(64))
    set_by_name: Mapped[str | None] = mapped_column(String(256))
    set_at: Mapped[datetime] = mapped_column(UtcDateTime())


class JobRow(Base):
    """Work to do later, or elsewhere: due checks, Graph lookups, report reconciliation.

    Any instance may claim a due job (FOR UPDATE SKIP LOCKED on PostgreSQL); a claim is a
    lease, so the job of an instance that died is picked up again when the lease ends.
    """

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64))
    # Lower runs first among due jobs: store.jobs.Priority.
    priority: Mapped[int] = mapped_column(Integer, default=5)
    lane: Mapped[str | None] = mapped_column(String(512), index=True)
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    # While a job waits, a second request for the same work is folded into it.
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    leased_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    leased_by: Mapped[str | None] = mapped_column(String(64))
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    outcome: Mapped[str | None] = mapped_column(String(16))  # done | failed
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_jobs_due", "done_at", "due_at"),
        Index("ix_jobs_waiting", "due_at", sqlite_where=text("done_at IS NULL"), postgresql_where=text("done_at IS NULL")),
        # A claim asks whether a job's lesson or lane has another job waiting or running.
        Index("ix_jobs_waiting_lesson", "lesson_id", sqlite_where=text("done_at IS NULL"), postgresql_where=text("done_at IS NULL")),
        Index("ix_jobs_waiting_lane", "lane", sqlite_where=text("done_at IS NULL"), postgresql_where=text("done_at IS NULL")),
        # The waiting jobs in the order a claim takes them: it looks at the front of the queue only.
        Index("ix_jobs_claim_order", "priority", "due_at", "id", sqlite_where=text("done_at IS NULL"),
              postgresql_where=text("done_at IS NULL")),
        Index(
            "uq_jobs_waiting_dedupe_key",
            "dedupe_key",
            unique=True,
            sqlite_where=text("dedupe_key IS NOT NULL"),
            postgresql_where=text("dedupe_key IS NOT NULL"),
        ),
    )


class FindingRow(Base):
    """The current verdict of one rule on one lesson.

    One row per (lesson, rule): a verdict that stays 'fail' is the same breach, raised once.
    `episode` counts separate failures (pass, then fail again is a new one), so alerts can be
    sent once per episode.
    """

    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24))
    message: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    recheck_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    moment: Mapped[str] = mapped_column(String(16))
    episode: Mapped[int] = mapped_column(Integer, default=0)
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    first_failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    evaluated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("uq_findings_lesson_rule", "lesson_id", "rule_id", unique=True),)


class ExceptionRow(Base):
    """An exception SLT or the DSL approved: for a lesson, a recurring series, or a person."""

    __tablename__ = "exceptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(String(64), index=True)
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lessons.id", ondelete="SET NULL"))
    meeting_id: Mapped[str | None] = mapped_column(String(512))
    person_id: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    approved_by: Mapped[str] = mapped_column(String(64))
    approved_by_name: Mapped[str | None] = mapped_column(String(256))
    approved_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    # The school whose record this is (config/trust.py); see domain/placement.py.
    school_id: Mapped[str | None] = mapped_column(String(40), index=True)


class AuditRow(Base):
    """Who changed a record, when, and what: approvals, revocations, imports."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(128))
    actor_name: Mapped[str | None] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(256))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    # The school whose record this is (config/trust.py); see domain/placement.py.
    school_id: Mapped[str | None] = mapped_column(String(40), index=True)


class TimetableEntryRow(Base):
    __tablename__ = "timetable_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organizer: Mapped[str] = mapped_column(String(256), index=True)
    class_name: Mapped[str | None] = mapped_column(String(128))
    subject: Mapped[str | None] = mapped_column(String(128))
    on_date: Mapped[date | None] = mapped_column(Date)
    weekday: Mapped[int | None] = mapped_column(Integer)
    starts: Mapped[time] = mapped_column(Time)
    ends: Mapped[time] = mapped_column(Time)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(300))  # file and line it came from
    # The school whose record this is (config/trust.py); see domain/placement.py.
    school_id: Mapped[str | None] = mapped_column(String(40), index=True)


class ConsentRow(Base):
    """A parental consent form on file (imported from the MIS)."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person: Mapped[str] = mapped_column(String(256), index=True)  # Entra object id or email, lower case
    kind: Mapped[str] = mapped_column(String(32))  # remote-learning | one-to-one
    given_on: Mapped[date | None] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(300))
    # The school whose record this is (config/trust.py); see domain/placement.py.
    school_id: Mapped[str | None] = mapped_column(String(40), index=True)


class MessageRow(Base):
    """A card Chaperone must deliver: kept until it is sent, and after, for the record.

    A message that could not be delivered stays here (status 'failed') and is shown by
    /healthz and `python app.py alerts --undelivered`; nothing is dropped.
    """

    __tablename__ = "messages"
    # A trust's escalation sweep reads the recent alerts of one kind.
    __table_args__ = (Index("ix_messages_kind_sent_at", "kind", "sent_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lessons.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # reminder | teacher-warning | slt-alert | summary | concern
    destination: Mapped[str] = mapped_column(String(32))  # meeting | slt-channel | organizer | dsl
    # One reminder and one summary per lesson, however often their trigger runs.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    card: Mapped[dict] = mapped_column(JSON)
    summary: Mapped[str] = mapped_column(Text)
    finding_ids: Mapped[list] = mapped_column(JSON, default=list)
    # The findings as they were when the alert or warning was raised, with who was present
    # then: a card shows what was true, even after a verdict changes.
    raised: Mapped[list | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # pending | sent | failed
    service_url: Mapped[str | None] = mapped_column(String(512))  # the Bot Connector for 1:1 chats
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    conversation_id: Mapped[str | None] = mapped_column(String(512))
    activity_id: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The school whose record this is (config/trust.py); see domain/placement.py.
    school_id: Mapped[str | None] = mapped_column(String(40), index=True)


class AlertStateRow(Base):
    """What SLT or the DSL did with one breach alert: acknowledged, resolved, an exception."""

    __tablename__ = "alert_states"

    alert_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(256))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(256))
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    exception_id: Mapped[int | None] = mapped_column(Integer)
    exception_by: Mapped[str | None] = mapped_column(String(256))
    # Chaperone's own later verdict no longer finds the breach (e.g. Graph's attendance report).
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    cleared_reason: Mapped[str | None] = mapped_column(Text)


class ConcernRow(Base):
    """A concern reported through Chaperone: for the DSL only."""

    __tablename__ = "concerns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lessons.id", ondelete="SET NULL"), index=True)
    reporter_aad_id: Mapped[str | None] = mapped_column(String(64))
    reporter_name: Mapped[str | None] = mapped_column(String(256))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    message_id: Mapped[int | None] = mapped_column(Integer)
    # The school whose record this is (config/trust.py); see domain/placement.py.
    school_id: Mapped[str | None] = mapped_column(String(40), index=True)


class SignatureRow(Base):
    """A member of staff's signature of one AUP version. Append-only: nothing in Chaperone
    edits or deletes these except retention."""

    __tablename__ = "aup_signatures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    aad_object_id: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[str] = mapped_column(String(120))
    version: Mapped[str] = mapped_column(String(64))
    text_sha256: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The school whose AUP this is: a teacher working in two schools signs each school's.
    school_id: Mapped[str] = mapped_column(String(40))

    __table_args__ = (Index("uq_aup_signatures_person_school_version", "aad_object_id", "school_id", "version", unique=True),)


class AupReminderRow(Base):
    __tablename__ = "aup_reminders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    aad_object_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The school whose record this is (config/trust.py); see domain/placement.py.
    school_id: Mapped[str | None] = mapped_column(String(40), index=True)


class ConcernReviewRow(Base):
    """What the DSL did with a concern: seen, or closed with a note. Its own record, so the
    concern itself stays as it was reported; deleted with the concern."""

    __tablename__ = "concern_reviews"

    concern_id: Mapped[int] = mapped_column(ForeignKey("concerns.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # seen | closed (no row: new)
    by_aad_id: Mapped[str] = mapped_column(String(64))
    by_name: Mapped[str | None] = mapped_column(String(256))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    note: Mapped[str | None] = mapped_column(Text)


class EnrolmentRow(Base):
    """What the last sweep did about one meeting on a member of staff's calendar: enrolled,
    already there, skipped with why, or could not enrol with why (for coverage)."""

    __tablename__ = "enrolments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organizer_id: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(512))
    subject: Mapped[str | None] = mapped_column(String(512))
    start: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    end: Mapped[datetime | None] = mapped_column(UtcDateTime())
    join_url: Mapped[str | None] = mapped_column(Text)
    chat_id: Mapped[str | None] = mapped_column(String(512), index=True)
    team_id: Mapped[str | None] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16))  # enrolled | already | skipped | failed
    reason: Mapped[str | None] = mapped_column(Text)
    # The school whose staff calendar the meeting was found in.
    school_id: Mapped[str | None] = mapped_column(String(40), index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("uq_enrolments_organizer_event", "organizer_id", "event_id", unique=True),)


class GraphSubscriptionRow(Base):
    """A Graph change-notification subscription, with the secret clientState Graph echoes in
    every notification: in the database so any instance can check notifications and renew."""

    __tablename__ = "graph_subscriptions"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))  # calendar | call-records
    resource: Mapped[str] = mapped_column(String(512))
    change_type: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[str | None] = mapped_column(String(64))
    client_state: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    renewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class CallRecordRow(Base):
    """Every call record Chaperone read, and what it made of it (once per record and version)."""

    __tablename__ = "call_records"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    organizer_id: Mapped[str | None] = mapped_column(String(64))
    start: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    end: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # unmonitored (a lesson row made) | followed-live (matched a lesson) | no-pupils | not-staff
    outcome: Mapped[str] = mapped_column(String(24))
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lessons.id", ondelete="SET NULL"))
    read_at: Mapped[datetime] = mapped_column(UtcDateTime())
