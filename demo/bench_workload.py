"""The benchmark's school: who the lessons and people are, and the meeting activities Teams
would post for them, built once, before any clock starts.

Everything is derived from small numbers, so the load generator, the cloud stand-ins and the
orchestrator (three processes) agree on it without shipping megabytes between them:

- lesson L (0, 1, 2, ...) is "Bench lesson L" organised by its own teacher; every lesson has
  30 seats: seat 0 is the organizer, seat 1 a second member of staff, seats 2-29 pupils;
- the person in seat S of lesson L is person L*30+S (distinct people everywhere: the "per new
  person" Graph cost is real);
- a lesson whose number is a multiple of `breach_every` has its lobby open to everyone, so the
  waiting-room rule raises an SLT alert; the others have the lobby on (invited people only).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum

from standins.teams import DEFAULT_TENANT, Meeting, Person, TeamsSimulator

SEATS = 30
STAFF_SEATS = 2
TITLE = "Bench lesson {:06d}"
TITLE_PATTERN = r"Bench lesson (\d{6})"
STAFF_GROUP = "00000000-0000-4000-8000-00000000e002"  # policy.example.toml's staff_group_ids
SLT = Person("Roland Gooding", "00000000-0000-4000-8000-00000000a001")  # policy.example.toml's SLT
SLT_TEAM = "19:bench-slt-team@thread.tacv2"
SLT_CHANNEL = "19:bench-slt-alerts@thread.tacv2"
APP_ID = "b3c1e7a0-4d5e-4f60-8a1b-0c0ffee0be4c"


class Kind(str, Enum):
    start = "start"
    join = "join"


@dataclass(frozen=True)
class School:
    """A run's people and lessons; `run` keeps ids distinct between runs on one database."""

    run: str
    breach_every: int = 2
    # `--schools N` (a trust, `bench --trust`): lesson L belongs to school L % N, whose staff
    # group has its two staff, so Chaperone places it by staff group; each school has its own SLT.
    schools: int = 1

    def school_of(self, lesson: int) -> int:
        return lesson % max(1, self.schools)

    @property
    def is_trust(self) -> bool:
        return self.schools > 1

    @staticmethod
    def school_id(school: int) -> str:
        return f"bench-{school:03d}"

    def staff_group(self, school: int) -> str:
        """School `school`'s staff group (a single school's is the example policy's)."""
        return f"00000000-0000-4000-9000-{school:012d}" if self.is_trust else STAFF_GROUP

    def staff_group_of(self, lesson: int) -> str:
        return self.staff_group(self.school_of(lesson))

    @staticmethod
    def slt(school: int) -> Person:
        """School `school`'s senior leader in a trust (the trust's default policy keeps SLT)."""
        return Person(f"Head of school {school:03d}", f"00000000-0000-4000-a000-{school:012d}")

    def person(self, index: int) -> Person:
        lesson, seat = divmod(index, SEATS)
        aad = f"00000000-{self.run[:4]}-4{self.run[4:7]}-8000-{index:012d}"
        if seat == 0:
            return Person(f"Teacher {index:06d}", aad, role="Organizer")
        if seat < STAFF_SEATS:
            return Person(f"Staff {index:06d}", aad, role="Presenter")
        return Person(f"Pupil {index:06d}", aad)

    def is_staff(self, index: int) -> bool:
        return index % SEATS < STAFF_SEATS

    def meeting(self, lesson: int) -> Meeting:
        return Meeting(f"19:meeting_bench-{self.run}-{lesson:06d}@thread.v2", TITLE.format(lesson), self.person(lesson * SEATS))

    def breaches(self, lesson: int) -> bool:
        return self.breach_every > 0 and lesson % self.breach_every == 0


@dataclass(frozen=True)
class Item:
    """One activity to post: a lesson's meetingStart, or one person joining it; `at` is the
    offset in seconds from the phase's start at which it is due (open loop) and its event time."""

    kind: Kind
    lesson: int
    seat: int
    at: float


def lesson_block(lesson: int, at: float = 0.0) -> list[Item]:
    """A lesson's meetingStart and its 30 joins, in order."""
    return [Item(Kind.start, lesson, 0, at)] + [Item(Kind.join, lesson, seat, at) for seat in range(SEATS)]


def stream(first_lesson: int, count: int) -> list[Item]:
    """`count` activities of whole lessons in turn (one start, thirty joins, the next lesson...)."""
    items: list[Item] = []
    lesson = first_lesson
    while len(items) < count:
        items += lesson_block(lesson)
        lesson += 1
    return items[:count]


def at_rate(items: list[Item], rate: float) -> list[Item]:
    """The same activities due evenly at `rate` a second."""
    return [Item(i.kind, i.lesson, i.seat, n / rate) for n, i in enumerate(items)]


def lessons_in(items: list[Item]) -> set[int]:
    return {i.lesson for i in items}


def morning(first_lesson: int, lessons: int, *, span: float = 120.0, bursts: int = 8, seed: int = 9) -> list[Item]:
    """The 09:00 scenario: lessons start in `bursts` waves over the first ~85 % of `span`
    seconds; in each lesson the two staff join within 2 s of the start and the pupils within
    the next 15 s. Sorted by due time."""
    rng = random.Random(seed)
    wave_gap = span * 0.85 / bursts
    items: list[Item] = []
    for n in range(lessons):
        lesson = first_lesson + n
        start = (n % bursts) * wave_gap + rng.uniform(0, 3)
        items.append(Item(Kind.start, lesson, 0, start))
        for seat in range(SEATS):
            delay = rng.uniform(0, 2) if seat < STAFF_SEATS else rng.uniform(1, 16)
            items.append(Item(Kind.join, lesson, seat, min(span, start + delay)))
    items.sort(key=lambda i: i.at)
    return items


def build_bodies(school: School, items: list[Item], service_url: str, origin: datetime, tag: str) -> list[bytes]:
    """The JSON body of each activity, as the Teams channel posts it; activity ids are unique
    per run and phase (`tag`), so none is a redelivery."""
    teams = TeamsSimulator("http://unused", service_url, tenant_id=DEFAULT_TENANT)
    meetings: dict[int, Meeting] = {}
    bodies = []
    for n, item in enumerate(items):
        meeting = meetings.get(item.lesson)
        if meeting is None:
            meeting = meetings[item.lesson] = school.meeting(item.lesson)
        at = origin + timedelta(seconds=item.at)
        activity_id = f"bench-{school.run}-{tag}-{n:08d}"
        if item.kind is Kind.start:
            activity = teams.meeting_start(meeting, at, activity_id=activity_id)
        else:
            activity = teams.join(meeting, [school.person(item.lesson * SEATS + item.seat)], at, activity_id=activity_id)
        bodies.append(json.dumps(activity, separators=(",", ":")).encode())
    return bodies


def items_to_json(items: list[Item]) -> list[list]:
    return [[i.kind.value, i.lesson, i.seat, round(i.at, 6)] for i in items]


def items_from_json(rows: list[list]) -> list[Item]:
    return [Item(Kind(k), lesson, seat, at) for k, lesson, seat, at in rows]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
