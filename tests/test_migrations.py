"""Migrations carry a school's existing records forward: revision 0006 turns the free-text
look-up statuses, the findings' check_at and the alert actions on outbox rows into typed
columns and their own record, without losing a row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from domain.lookups import Lookup
from store.db import create_engine, migrate
from store.findings import FindingStore
from store.lessons import LessonStore
from store.outbox import Outbox

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
