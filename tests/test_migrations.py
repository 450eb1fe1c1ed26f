"""Migrations carry a school's existing records forward: revision 0006 turns the free-text
look-up statuses, the findings' check_at and the alert actions on outbox rows into typed
columns and their own record, without losing a row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from domain.conversations import AlertPurpose
from domain.lookups import Lookup
from domain.placement import Placement
from store.conversations import ConversationStore
from store.db import create_engine, migrate
from store.findings import FindingStore
from store.lessons import LessonStore
from store.outbox import Outbox
from store.signatures import SignatureRegister

from .helpers import T0

pytestmark = pytest.mark.e2e


async def test_0006_keeps_every_record_and_types_it(any_database_url):
    engine = create_engine(any_database_url)
    try:
        await migrate(engine, "0005")
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO lessons (id, meeting_id, status, start_event_missing, end_event_missing, created_at, updated_at,"
                " details_status, settings_status, calendar_status, report_status, roster_status)"
                " VALUES (1, 'm-1', 'closed', false, false, :t, :t, 'ok', 'could not verify: Graph denied access',"
                " 'no calendar event', 'pending: no attendance report yet', 'ok')"), {"t": T0})
            await conn.execute(text(
                "INSERT INTO findings (id, lesson_id, rule_id, severity, status, message, details, moment, episode, final,"
                " evaluated_at) VALUES (1, 1, 'two-staff', 'breach', 'pass', 'within grace', :d, 'roster', 0, false, :t)"),
                {"d": '{"check_at": "2026-11-23T09:06:00+00:00", "since": "x"}', "t": T0})
            await conn.execute(text(
                "INSERT INTO messages (id, lesson_id, kind, destination, card, summary, finding_ids, status, attempts,"
                " created_at, acknowledged_by, acknowledged_at) VALUES (1, 1, 'slt-alert', 'slt-channel', '{}', 'Breach',"
                " '[1]', 'sent', 1, :t, 'Roland Gooding', :t)"), {"t": T0})
        await migrate(engine)

        lesson = await LessonStore(engine).get(1)
        assert lesson.details_lookup == Lookup.ok() and lesson.roster_lookup == Lookup.ok()
        assert lesson.settings_lookup == Lookup.could_not_verify("Graph denied access")
        assert lesson.calendar_lookup == Lookup.none("no calendar event")
        assert lesson.report_lookup == Lookup.pending("no attendance report yet")
        [finding] = await FindingStore(engine).for_lesson(1)
        assert finding.recheck_at == T0 + timedelta(minutes=6) and finding.details == {"since": "x"}
        outbox = Outbox(engine)
        state = await outbox.alert_state(1)
        assert state.acknowledged_by == "Roland Gooding" and state.acknowledged_at == T0 and state.resolved_at is None
        assert (await outbox.get(1)).summary == "Breach"
    finally:
        await engine.dispose()


async def test_0012_keeps_a_single_schools_records_as_its_own(any_database_url):
    """Records written before schools were kept are the single school's (id "school"), its
    alert channel included, so an existing deployment carries on unchanged."""
    engine = create_engine(any_database_url)
    try:
        await migrate(engine, "0011")
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO lessons (id, meeting_id, status, start_event_missing, end_event_missing, created_at, updated_at)"
                " VALUES (1, 'm-1', 'closed', false, false, :t, :t)"), {"t": T0})
            await conn.execute(text(
                "INSERT INTO conversations (conversation_id, scope, service_url, reference, installed, updated_at)"
                " VALUES ('19:slt@thread.tacv2', 'channel', 'https://smba.example/', '{}', true, :t)"), {"t": T0})
            await conn.execute(text(
                "INSERT INTO alert_destinations (purpose, conversation_id, set_by_aad_id, set_by_name, set_at)"
                " VALUES ('slt', '19:slt@thread.tacv2', 'aad-slt', 'Roland Gooding', :t)"), {"t": T0})
            await conn.execute(text(
                "INSERT INTO aup_signatures (aad_object_id, name, position, version, text_sha256, signed_at)"
                " VALUES ('aad-teacher', 'Ms Okafor', 'Teacher', '2022-11', 'abc', :t)"), {"t": T0})
        await migrate(engine)

        lesson = await LessonStore(engine).get(1)
        assert lesson.school_id == "school" and lesson.placement is Placement.only_school
        destination = await ConversationStore(engine).alert_destination(AlertPurpose.slt, school_id="school")
        assert destination is not None and destination.set_by_name == "Roland Gooding"
        assert await SignatureRegister(engine).signed_by("2022-11", {"aad-teacher"}, school_id="school") == {"aad-teacher"}
    finally:
        await engine.dispose()
