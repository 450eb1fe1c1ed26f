"""Which school a lesson belongs to, in a trust: decided from data the trust already has.

Evidence, strongest first:
1. the organizer is in exactly one school's staff group ([people] staff_group_ids);
2. the lesson's class team belongs to one school (educationClass -> educationSchool, matched
   with each school's [school] education_school_ids);
3. the lesson matches one school's timetable (organizer and start, within its tolerance).
Each narrows the schools the one before left (a teacher in two schools' staff groups is placed
by the class or the timetable). What none settles is "school unknown": it is kept under the
trust's default policy (its [school] id), which judges it, and the trust's leads see it flagged. A single school's lessons are its own
from the moment they open (store/lessons.py), and never come here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from config.trust import Schools
from domain.lesson import Lesson
from domain.placement import Placement, SchoolPlacement
from graph.client import GraphClient, GraphUnavailable
from graph.schools import class_education_schools, staff_schools
from rules.timetabled import timetable_entry
from store.lessons import LessonStore
from store.school_data import SchoolData

log = logging.getLogger(__name__)

# Decided: a later look (Graph back, say) does not move the lesson, whose verdicts and alerts
# are its school's. 'unknown' is decided only once the organizer is known (or never will be).
SETTLED = frozenset({Placement.only_school, Placement.staff_group, Placement.class_team, Placement.timetable, Placement.unknown})


@dataclass(frozen=True)
class StaffGroups:
    """What the schools' staff groups say of the organizer: the schools whose group has them,
    or why Graph could not say. Asked beside a lesson's other start look-ups (each waits on
    Graph, not on the others), then handed to the decision."""

    schools: frozenset[str] = frozenset()
    unavailable: str | None = None


class LessonPlacement:
    def __init__(self, *, graph: GraphClient, schools: Schools, school_data: SchoolData, lessons: LessonStore) -> None:
        self._graph = graph
        self._schools = schools
        self._school_data = school_data
        self._lessons = lessons
        self._staff_groups = {g: p.school.id for p in schools for g in p.people.staff_group_ids}

    async def place(self, lesson: Lesson, *, final: bool) -> Lesson:
        """The lesson with its school decided (and stored), if it was not already. Not `final`
        (the organizer may yet be named): a lesson nothing places stays pending, unjudged."""
        placed = await self.decision(lesson, final=final)
        return lesson if placed is None else await self._lessons.set_placement(lesson.id, placed)

    async def decision(self, lesson: Lesson, *, final: bool, staff: StaffGroups | None = None) -> SchoolPlacement | None:
        """The school to store for the lesson; None when it stays as it is (already settled,
        or nothing places it yet and the organizer may still be named)."""
        if lesson.placement in SETTLED:
            return None
        placed = await self.decide(lesson.organizer_aad_id, lesson.organizer_aliases, lesson.class_team_id,
                                   lesson.actual_start or lesson.scheduled_start, staff)
        if placed.placement is Placement.unknown and not final:
            return None
        if placed.placement is Placement.unknown:
            log.info("lesson %s: school unknown: %s", lesson.id, placed.reason)
        return placed

    def needs_staff_groups(self, lesson: Lesson) -> bool:
        return lesson.placement not in SETTLED and self._schools.sole is None and bool(lesson.organizer_aad_id and self._staff_groups)

    async def staff_groups(self, organizer: str) -> StaffGroups:
        try:
            return StaffGroups(schools=frozenset(await staff_schools(self._graph, organizer, self._staff_groups)))
        except GraphUnavailable as exc:
            return StaffGroups(unavailable=exc.reason)

    async def decide(self, organizer: str | None, aliases: set[str], class_team: str | None, start: datetime | None,
                     staff: StaffGroups | None = None) -> SchoolPlacement:
        sole = self._schools.sole
        if sole is not None:
            return SchoolPlacement(school_id=sole.school.id, placement=Placement.only_school, reason="the deployment serves one school")
        candidates = set(self._schools.ids)
        notes: list[str] = []

        if organizer and self._staff_groups:
            if staff is None:
                staff = await self.staff_groups(organizer)
            if staff.unavailable is not None:
                notes.append(f"staff groups could not be read ({staff.unavailable})")
            else:
                staff_of = set(staff.schools)
                if len(staff_of) == 1:
                    (school,) = staff_of
                    return SchoolPlacement(school_id=school, placement=Placement.staff_group,
                                           reason=f"the organizer is in {self._name(school)}'s staff group")
                if staff_of:
                    candidates &= staff_of
                    notes.append("the organizer is in the staff groups of " + self._names(staff_of))
                else:
                    notes.append("the organizer is in no school's staff group")
        elif not organizer:
            notes.append("the organizer is not known")

        if class_team:
            try:
                education = await class_education_schools(self._graph, class_team)
            except GraphUnavailable as exc:
                notes.append(f"the class team's school could not be read ({exc.reason})")
            else:
                of_class = {p.school.id for p in self._schools if education & set(p.school.education_school_ids)} & candidates
                if len(of_class) == 1:
                    (school,) = of_class
                    return SchoolPlacement(school_id=school, placement=Placement.class_team,
                                           reason=f"the lesson's class team is {self._name(school)}'s")
                notes.append("the class team names " + (self._names(of_class) if of_class else "no school of the trust"))

        if start is not None and aliases:
            timetabled = {school for school in sorted(candidates) if await self._on_timetable(school, aliases, start)}
            if len(timetabled) == 1:
                (school,) = timetabled
                return SchoolPlacement(school_id=school, placement=Placement.timetable,
                                       reason=f"the lesson is on {self._name(school)}'s timetable")
            notes.append("the timetables of " + self._names(timetabled) + " all match" if timetabled else "no school's timetable has it")
        # Kept under the trust's default policy, flagged: the trust's leads see it and place it.
        return SchoolPlacement(school_id=self._schools.default.school.id, placement=Placement.unknown,
                               reason="; ".join(notes) or "nothing names its school")

    async def _on_timetable(self, school: str, aliases: set[str], start: datetime) -> bool:
        entries, _ = await self._school_data.timetable_for(aliases, school_id=school)
        return timetable_entry(entries, aliases, self._schools.get(school), start) is not None

    async def school_of_person(self, aad_object_id: str | None) -> str | None:
        """The one school whose staff or pupil groups have this person (a concern raised in a
        personal chat goes to that school's DSL); None when not exactly one, or Graph cannot say."""
        sole = self._schools.sole
        if sole is not None:
            return sole.school.id
        groups = {g: p.school.id for p in self._schools for g in (*p.people.staff_group_ids, *p.people.pupil_group_ids)}
        if not aad_object_id or not groups:
            return None
        try:
            found = await staff_schools(self._graph, aad_object_id, groups)
        except GraphUnavailable as exc:
            log.info("a person's school could not be read: %s", exc.reason)
            return None
        return next(iter(found)) if len(found) == 1 else None

    def _name(self, school_id: str) -> str:
        return self._schools.get(school_id).school.name

    def _names(self, schools: set[str]) -> str:
        return ", ".join(self._name(s) for s in sorted(schools))
