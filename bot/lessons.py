"""The lesson monitor: follows each live lesson from Teams' meeting events.

It records the lesson and its attendance (the policy: "Staff will record the length, time,
date, and attendance of any sessions held") and asks Bot Framework for the meeting's
details. A detail it could not get is recorded as 'could not verify', never guessed.
"""

from __future__ import annotations

import logging

from config.policy import Policy
from domain.events import (
    EventOutcome,
    MeetingEnded,
    MeetingStarted,
    Participant,
    ParticipantsChanged,
)
from domain.lesson import Lesson, PersonClass
from store.lessons import LessonStore

from .connector import BotConnector, ConnectorError

log = logging.getLogger(__name__)


def classify_from_event(person: Participant, school_tenant: str | None) -> PersonClass:
    """What the event alone says about a person: only 'external' is certain from it.

    Staff and pupils share the school's tenant; telling them apart needs the directory.
    """
    if not person.aad_object_id:
        return PersonClass.external  # anonymous joiners have no school account
    if school_tenant and person.tenant_id and person.tenant_id != school_tenant:
        return PersonClass.external
    return PersonClass.unknown


class LessonMonitor:
    def __init__(self, store: LessonStore, connector: BotConnector, policy: Policy) -> None:
        self._store = store
        self._connector = connector
        self._policy = policy

    def _school_tenant(self, event_tenant: str | None) -> str | None:
        return self._policy.school.tenant_id or event_tenant

    async def meeting_started(self, event: MeetingStarted, activity_key: str | None) -> tuple[Lesson, EventOutcome]:
        lesson, outcome = await self._store.record_start(event, activity_key)
        if outcome is EventOutcome.applied and event.meeting.service_url:
            lesson = await self._fetch_details(lesson, event.meeting.service_url)
        log.info("meetingStart %s -> lesson %s (%s)", event.meeting.meeting_id, lesson.id, outcome)
        return lesson, outcome

    async def _fetch_details(self, lesson: Lesson, service_url: str) -> Lesson:
        try:
            details = await self._connector.meeting_details(service_url, lesson.meeting_id)
        except ConnectorError as exc:
            log.warning("lesson %s: meeting details unavailable: %s", lesson.id, exc)
            return await self._store.set_details(lesson.id, None, f"could not verify: {exc}")
        return await self._store.set_details(lesson.id, details, "ok")

    async def meeting_ended(self, event: MeetingEnded, activity_key: str | None) -> tuple[Lesson, EventOutcome]:
        lesson, outcome = await self._store.record_end(event, activity_key)
        log.info("meetingEnd %s -> lesson %s (%s)", event.meeting.meeting_id, lesson.id, outcome)
        return lesson, outcome

    async def participants_changed(
        self, event: ParticipantsChanged, activity_key: str | None
    ) -> tuple[Lesson, EventOutcome]:
        tenant = self._school_tenant(event.meeting.tenant_id)
        lesson, outcome = await self._store.record_participants(
            event, activity_key, lambda person: classify_from_event(person, tenant)
        )
        log.info(
            "%s %d participant(s) in %s -> lesson %s (%s)",
            "join" if event.joined else "leave",
            len(event.participants),
            event.meeting.meeting_id,
            lesson.id,
            outcome,
        )
        return lesson, outcome
