"""Coverage, measured: per day and per teacher, the sessions with pupils, how many Chaperone
followed live, how many it saw only afterwards (call records), and the meetings it could not
enrol in, with why."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import selectinload

from domain.enrolment import CoverageRow, EnrolmentStatus, LessonOrigin
from domain.lesson import PersonClass

from .tables import EnrolmentRow, LessonRow


class Coverage:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def between(self, first: date, last: date, zone: ZoneInfo, school_id: str | None = None) -> list[CoverageRow]:
        """Rows for each school day in [first, last] (included) with anything to say; one
        school's only, when `school_id` is given (a trust)."""
        start = datetime.combine(first, time(0), zone)
        end = datetime.combine(last + timedelta(days=1), time(0), zone)
        counts: dict[tuple[str, str], dict] = defaultdict(lambda: {"pupils": 0, "live": 0, "after": 0, "failed": 0, "reasons": []})
        names: dict[str, str] = {}
        of_lesson = [LessonRow.school_id == school_id] if school_id is not None else []
        of_enrolment = [EnrolmentRow.school_id == school_id] if school_id is not None else []
        async with self._sessions() as session:
            lessons = (await session.execute(
                select(LessonRow).options(selectinload(LessonRow.attendance))
                .where(LessonRow.actual_start >= start, LessonRow.actual_start < end, *of_lesson))).scalars().all()
            failed = (await session.execute(
                select(EnrolmentRow).where(EnrolmentRow.start >= start, EnrolmentRow.start < end,
                                           EnrolmentRow.status == EnrolmentStatus.failed.value, *of_enrolment))).scalars().all()
        for lesson in lessons:
            who = lesson.organizer_aad_id or "unknown organizer"
            if lesson.organizer_name:
                names[who] = lesson.organizer_name
            if not any(a.classification == PersonClass.pupil.value for a in lesson.attendance):
                continue
            row = counts[(lesson.actual_start.astimezone(zone).date().isoformat(), who)]
            row["pupils"] += 1
            row["live" if lesson.origin == LessonOrigin.live.value else "after"] += 1
        for enrolment in failed:
            row = counts[(enrolment.start.astimezone(zone).date().isoformat(), enrolment.organizer_id)]
            row["failed"] += 1
            row["reasons"].append(f"{enrolment.subject or 'a calendar'}: {enrolment.reason}")
        return [
            CoverageRow(day=day, teacher=names.get(who, who), sessions_with_pupils=c["pupils"], followed_live=c["live"],
                        seen_afterwards=c["after"], could_not_enrol=c["failed"], reasons=tuple(c["reasons"]))
            for (day, who), c in sorted(counts.items(), key=lambda item: (item[0][0], names.get(item[0][1], item[0][1])))
        ]

    async def unmonitored_on(self, day: date, zone: ZoneInfo, school_id: str | None = None) -> list[tuple[int, str, str, datetime]]:
        """The unmonitored sessions of one day (of one school, when given): (lesson id, title, organizer, start)."""
        start = datetime.combine(day, time(0), zone)
        of_school = [LessonRow.school_id == school_id] if school_id is not None else []
        async with self._sessions() as session:
            found = (await session.execute(
                select(LessonRow).where(LessonRow.origin == LessonOrigin.call_record.value, LessonRow.actual_start >= start,
                                        LessonRow.actual_start < start + timedelta(days=1), *of_school)
                .order_by(LessonRow.actual_start))).scalars()
            return [(r.id, r.title or "a call", r.organizer_name or r.organizer_aad_id or "unknown", r.actual_start) for r in found]
