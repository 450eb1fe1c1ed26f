"""Composing a card from stored facts: the lesson, its findings, and what SLT did.

Delivery calls this when it sends a message, and card actions call it when a card changes
(an alert acknowledged, the organizer's own view): one place decides what a card shows.
"""

from __future__ import annotations

from cards import attendance_summary, slt_alert, teacher_warning
from config.policy import Policy
from config.trust import Schools
from domain.findings import StoredFinding
from domain.lesson import Lesson
from domain.messages import AlertState, Message, MessageKind, RaisedFinding
from rules.timetabled import timetable_entry
from store.findings import FindingStore
from store.lessons import LessonStore
from store.outbox import Outbox
from store.school_data import SchoolData


class CardComposer:
    def __init__(self, *, lessons: LessonStore, findings: FindingStore, outbox: Outbox, school_data: SchoolData, schools: Schools) -> None:
        self._lessons = lessons
        self._findings = findings
        self._outbox = outbox
        self._school_data = school_data
        self._schools = schools

    def policy_for(self, lesson: Lesson) -> Policy:
        """The lesson's school's policy (the trust default's for a lesson no school claimed):
        its words, its clauses, its time zone on the card."""
        return self._schools.get(lesson.school_id)

    async def card_for(self, message: Message, lesson: Lesson | None = None, *, just_raised: bool = False) -> dict:
        """The card as it was composed when first sent (stored), or composed now."""
        return message.card or await self.compose(message, lesson, just_raised=just_raised)

    async def compose(self, message: Message, lesson: Lesson | None = None, *, just_raised: bool = False) -> dict:
        """The card for `message` from the facts as they are now (`lesson`: its lesson, with
        its register, when the caller has just read it). `just_raised`: an alert the verdict
        that raised it is sending as it commits (Delivery.deliver_held)."""
        lesson = lesson or await self._lessons.get(message.lesson_id)
        if message.kind is MessageKind.teacher_warning:
            return teacher_warning.neutral_card(lesson.id, lesson.organizer_teams_ids, message.id)
        if message.kind is MessageKind.slt_alert:
            if just_raised:
                # Nobody can have acted on an alert not yet posted, and an open alert shows its
                # findings as raised: no state or later verdicts to read (two reads a breaching
                # start at 09:00). A clear that lands meanwhile refreshes it after its sending.
                state, now = AlertState(alert_id=message.id), {}
            else:
                state = await self._outbox.alert_state(message.id)
                now = {f.id: f for f in await self._findings.for_lesson(lesson.id)}
            return slt_alert.alert_card(self.policy_for(lesson), lesson, await self.raised(message, lesson), now, state,
                                        await self.timetabled_class(lesson))
        if message.kind is MessageKind.summary:
            return attendance_summary.summary_card(self.policy_for(lesson), lesson, await self._findings.for_lesson(lesson.id))
        raise ValueError(f"a {message.kind.value} card is composed when it is queued")

    async def organizer_view(self, message: Message) -> dict:
        """The organizer's own view of their warning: what failed (as it was raised) and what to do."""
        lesson = await self._lessons.get(message.lesson_id)
        return teacher_warning.warning_card(lesson.title, [r.finding for r in await self.raised(message, lesson)])

    async def raised(self, message: Message, lesson: Lesson) -> list[RaisedFinding]:
        """The findings as the message raised them; for a message from before Chaperone kept
        them, the stored findings and who was present when each was evaluated."""
        if message.raised is not None:
            return message.raised
        return [RaisedFinding(finding=f, present=lesson.present_at(f.first_failed_at or f.evaluated_at)) for f in await self.findings_of(message)]

    async def findings_of(self, message: Message) -> list[StoredFinding]:
        wanted = set(message.finding_ids)
        return [f for f in await self._findings.for_lesson(message.lesson_id) if f.id in wanted]

    async def timetabled_class(self, lesson: Lesson) -> str:
        """The class (and subject) the timetable has for this lesson, for the SLT alert."""
        policy = self.policy_for(lesson)
        entries, loaded = await self._school_data.timetable_for(lesson.organizer_aliases, school_id=policy.school.id)
        start = lesson.actual_start or lesson.scheduled_start
        entry = timetable_entry(entries, lesson.organizer_aliases, policy, start) if start else None
        if entry is not None:
            return entry.class_label or "on the timetable (no class given)"
        return "not on the timetable" if loaded else "unknown (no timetable imported)"
