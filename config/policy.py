"""The school's policy file: one TOML file, validated at start-up.

Errors name the field and, where it can be found, the line, because the person fixing the
file is a school IT lead, not the author of this code.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date, time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from domain.aup import AupDocument
from domain.clauses import Clause, ClauseMap
from domain.enrolment import LessonSelection
from domain.placement import SOLE_SCHOOL_ID

from .clauses import load_clause_maps


class PolicyError(ValueError):
    """The policy file is missing, not TOML, or does not validate."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class School(_Strict):
    name: str = Field(min_length=1)
    # A short, stable id for the school's records (lower case letters, digits, hyphens). A
    # single-school deployment may leave it; in a trust each school has its own. Do not change
    # it once records exist: every lesson, signature and register row is kept under it.
    id: str = Field(SOLE_SCHOOL_ID, pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    timezone: str = "Europe/London"
    # The school's Entra tenant. Participants from any other tenant are external.
    tenant_id: str | None = None
    # The AUP document(s) the school has adopted, whose words every card and report quotes:
    # built-in clause maps ("valence-2022", "staff-2023") or .toml maps of the school's own.
    # None given: every built-in map.
    aup_documents: list[str] = Field(default_factory=list)
    # In a trust: the school's educationSchool ids in Graph (School Data Sync), so a lesson in
    # one of its class teams is placed here (educationClass -> educationSchool).
    education_school_ids: tuple[str, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Person(_Strict):
    name: str = Field(min_length=1)
    role: str = ""
    # Entra (Azure AD) object id: what Teams puts in from.aadObjectId.
    aad_object_id: str = Field(min_length=1)


class People(_Strict):
    """Who the policy names: senior leaders (SLT) and the designated safeguarding lead(s)."""

    slt: list[Person] = Field(default_factory=list)
    dsl: list[Person] = Field(default_factory=list)
    # Entra security groups that say who is staff and who is a pupil, for accounts the
    # education roster does not cover.
    staff_group_ids: tuple[str, ...] = ()
    pupil_group_ids: tuple[str, ...] = ()

    def is_slt(self, aad_object_id: str | None) -> bool:
        return bool(aad_object_id) and any(p.aad_object_id == aad_object_id for p in self.slt)

    def is_dsl(self, aad_object_id: str | None) -> bool:
        return bool(aad_object_id) and any(p.aad_object_id == aad_object_id for p in self.dsl)


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class Hours(_Strict):
    opens: time
    closes: time


def _parse_hours(value: object) -> object:
    """ "08:30-16:30" or "closed"."""
    if isinstance(value, str):
        if value.strip().lower() == "closed":
            return None
        match = re.fullmatch(r"\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*", value)
        if not match:
            raise ValueError(f"expected 'HH:MM-HH:MM' or 'closed', got {value!r}")
        return {"opens": match.group(1), "closes": match.group(2)}
    return value


class OperatingHours(_Strict):
    """When online contact with pupils may happen, per weekday, in the school's time zone."""

    monday: Hours | None = None
    tuesday: Hours | None = None
    wednesday: Hours | None = None
    thursday: Hours | None = None
    friday: Hours | None = None
    saturday: Hours | None = None
    sunday: Hours | None = None

    @field_validator(*WEEKDAYS, mode="before")
    @classmethod
    def _hours(cls, value: object) -> object:
        return _parse_hours(value)

    def on(self, day: date) -> Hours | None:
        return getattr(self, WEEKDAYS[day.weekday()])


class Term(_Strict):
    name: str
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> "Term":
        if self.end < self.start:
            raise ValueError(f"term {self.name!r} ends before it starts")
        return self


class TermCalendar(_Strict):
    """Term dates and closure days (INSET days, bank holidays). Outside every term is a holiday."""

    terms: list[Term] = Field(default_factory=list)
    closures: list[date] = Field(default_factory=list)

    def closed_on(self, day: date) -> str | None:
        if day in self.closures:
            return "a closure day in the term calendar"
        if self.terms and not any(t.start <= day <= t.end for t in self.terms):
            return "outside term time"
        return None


class TimetablePolicy(_Strict):
    # How far a lesson may start from its timetabled time and still be that lesson.
    tolerance_minutes: float = Field(10, ge=0, le=120)
    # Until a timetable is imported, a calendar event with this category counts as timetabled
    # (for schools without an MIS export). Once one is imported, the timetable is the authority.
    calendar_category: str | None = "Timetabled lesson"


class LessonFollowUp(_Strict):
    """How Chaperone follows a lesson through to its end."""

    # Meeting options (lobby, chat, presenters, recording) are read again on roster changes,
    # at most once per this many minutes of the lesson, and once after the end.
    settings_refresh_minutes: float = Field(5, ge=0)
    # With no end event from Teams, a lesson is closed this long after everyone has left...
    close_idle_minutes: float = Field(10, gt=0)
    # ...and at the latest this long after its scheduled (or actual) start.
    close_after_hours: float = Field(4, gt=0)


class EnrolmentPolicy(_Strict):
    """Chaperone joining lessons by itself, and finding the sessions it missed ([enrolment])."""

    # Sweep the staff group's calendars and install Chaperone in each lesson's meeting chat.
    enabled: bool = True
    # Which meetings count as lessons: "pupils-invited", "class-teams" or "all-staff-meetings".
    lessons: LessonSelection = LessonSelection.pupils_invited
    # How far ahead each sweep looks, and how often it runs (and on calendar change notifications).
    look_ahead_hours: float = Field(24, gt=0, le=168)
    sweep_every_minutes: float = Field(60, ge=5, le=1440)
    # Graph's call records after each call: the sessions with pupils Chaperone did not follow.
    call_records: bool = True
    # Class teams (their group ids) Chaperone installs itself in at team scope, for channel meetings.
    class_team_ids: tuple[str, ...] = ()
    # Install Chaperone for staff, SLT and the DSL in personal scope, so its 1:1 messages reach them.
    personal_scope: bool = True
    # When SLT get the day's coverage summary (school time), the unmonitored sessions named; none: never.
    daily_summary_at: time | None = time(17, 30)


class ExceptionApprovals(_Strict):
    """Who may approve an exception to which rule. SLT and the DSL may approve any, except the
    rules named here, which only the DSL may: "Any pre-existing relationships or situations
    which mean this cannot be complied with will be discussed with [the] DSL who will record and
    agree whether an exception is formally approved."""

    dsl_only: tuple[str, ...] = ("school-accounts-only",)


class Reminder(_Strict):
    """What pupils are reminded of at the start of every lesson.

    "Staff will remind attendees of behaviour, expectations, and reporting mechanisms at the
    start of the session" (Valence); "including the use of microphones and chat features" (2023).
    """

    expectations: list[str] = Field(
        default_factory=lambda: [
            "Use appropriate language, as you would in the classroom.",
            "Keep your microphone muted and your camera off until a member of staff asks you to take part.",
            "Use the chat only for the lesson.",
            "Do not record, screenshot or photograph the lesson, your teachers or other pupils.",
            "Do not share the link to this lesson with anyone.",
            "Join from a shared space at home, with the door open or an adult nearby.",
            "Teams records activity in this lesson.",
        ]
    )
    reporting: list[str] = Field(
        default_factory=lambda: [
            "Tell the member of staff running the lesson, or a parent or carer.",
            "Or press Report a concern: it goes privately to the Designated Safeguarding Lead, not to this chat.",
        ]
    )


class AupPolicy(_Strict):
    """The Remote Learning AUP staff sign in Teams."""

    source: Path  # a Markdown or text file, relative to the policy file
    version: str = Field(min_length=1)
    # `python app.py aup remind` (and the daily run, if on) reminds each unsigned member of
    # staff at most once in this many days.
    remind_interval_days: int = Field(7, ge=1)
    remind_automatically: bool = False


class Retention(_Strict):
    """How long Chaperone keeps personal data, in days. Older records are deleted daily.

    Chaperone is not the school's safeguarding record: a concern is passed to the DSL, who
    records it in the school's own system (My Concern, CPOMS); Chaperone's copy need not
    outlive that.
    """

    lessons_days: int = Field(400, ge=1)  # lessons, attendance, findings, exceptions' lesson links
    messages_days: int = Field(400, ge=1)  # cards sent
    concerns_days: int = Field(90, ge=1)
    audit_days: int = Field(2190, ge=1)  # who approved what: six years
    signatures_days: int = Field(2190, ge=1)  # AUP signatures: the only way they are ever deleted
    delivery_log_days: int = Field(30, ge=1)  # activity ids kept to recognise redeliveries


class Privacy(_Strict):
    """Who answers for the personal data Chaperone processes: the school (or its trust) is the
    data controller. Shown on /privacy and /terms, which the Teams app's manifest links to."""

    controller: str = Field(min_length=1)  # e.g. "Valence School" or the academy trust
    contact_name: str = Field(min_length=1)  # e.g. "Data Protection Officer"
    contact_email: str = Field(min_length=3, pattern=r"^[^@\s]+@[^@\s]+$")
    postal_address: str = ""


class Policy(_Strict):
    school: School
    people: People = Field(default_factory=People)
    hours: OperatingHours | None = None  # None: the policy sets no operating hours
    calendar: TermCalendar = Field(default_factory=TermCalendar)
    timetable: TimetablePolicy = Field(default_factory=TimetablePolicy)
    lessons: LessonFollowUp = Field(default_factory=LessonFollowUp)
    enrolment: EnrolmentPolicy = Field(default_factory=EnrolmentPolicy)
    exceptions: ExceptionApprovals = Field(default_factory=ExceptionApprovals)
    reminder: Reminder = Field(default_factory=Reminder)
    retention: Retention = Field(default_factory=Retention)
    aup: AupPolicy | None = None
    privacy: Privacy | None = None  # None: /privacy says the policy file names no contact yet
    # [rules.<id>]: enabled, severity and the rule's own options (see `python app.py rules`).
    rules: dict[str, dict] = Field(default_factory=dict)
    _source: str = PrivateAttr(default="<policy>")
    _text: str = PrivateAttr(default="")
    _clause_maps: tuple[ClauseMap, ...] = PrivateAttr(default=())

    @property
    def clause_maps(self) -> tuple[ClauseMap, ...]:
        return self._clause_maps

    def approval_refused(self, approver_id: str, rule_id: str) -> str | None:
        """Why this person may not approve an exception to this rule, or None when they may."""
        dsl = {p.aad_object_id for p in self.people.dsl}
        slt = {p.aad_object_id for p in self.people.slt}
        if approver_id not in dsl | slt:
            return "only SLT and the DSL named in the policy can approve exceptions"
        if rule_id in self.exceptions.dsl_only and approver_id not in dsl:
            return f"only the DSL can approve an exception to {rule_id} (the policy's [exceptions] dsl_only)"
        return None

    def clauses_for(self, rule_id: str) -> list[tuple[Clause, ClauseMap]]:
        """The words of each adopted AUP that the rule enforces, with the document they are from."""
        return [(clause, m) for m in self._clause_maps for clause in m.for_rule(rule_id)]

    @property
    def reminder_interval_days(self) -> int:
        """How long a record of an AUP reminder must be kept at least (0: no reminders)."""
        return self.aup.remind_interval_days if self.aup else 0

    def aup_document(self) -> "AupDocument | None":
        """The AUP as staff will read and sign it (None when the policy names no AUP)."""
        if self.aup is None:
            return None
        path = self.aup.source if self.aup.source.is_absolute() else Path(self._source).parent / self.aup.source
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyError(f"{self.where(['aup', 'source'])}: cannot read the AUP text {path}: {exc.strerror}") from exc
        return AupDocument.from_markdown(text, self.aup.version)

    def where(self, loc: list[str]) -> str:
        """'file, line N' for a key in the policy file, as far as it can be found."""
        line = line_of(self._text, loc)
        return f"{self._source}, line {line}" if line else self._source


def load_policy(path: Path) -> Policy:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc.strerror}") from exc
    return parse_policy(text, source=str(path))


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from exc
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            line = line_of(text, loc)
            where = f"line {line}: " if line else ""
            problems.append(f"  {where}{'.'.join(loc)}: {err['msg']}")
        raise PolicyError(f"{source}: the policy is not valid:\n" + "\n".join(problems)) from exc
    policy._source, policy._text = source, text
    base = Path(source).parent if source != "<policy>" else Path.cwd()
    try:
        policy._clause_maps = load_clause_maps(policy.school.aup_documents, base)
    except ValueError as exc:
        raise PolicyError(f"{policy.where(['school', 'aup_documents'])}: {exc}") from exc
    return policy


def line_of(text: str, loc: list[str]) -> int | None:
    """Best-effort line number of the key at `loc` (table path + key), ignoring list indexes."""
    names = [p for p in loc if not p.isdigit()]
    if not names:
        return None
    *tables, key = names
    table_re = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*$")
    key_re = re.compile(rf"^\s*{re.escape(key)}\s*=")
    current: list[str] = []
    table_line = None
    for number, line in enumerate(text.splitlines(), start=1):
        header = table_re.match(line)
        if header:
            current = [part.strip() for part in header.group(1).split(".")]
            if current == names:  # the missing or wrong thing is a whole table
                table_line = number
            continue
        if current == tables and key_re.match(line):
            return number
    if table_line:
        return table_line
    # A key that is missing altogether: point at its table, when there is one.
    for number, line in enumerate(text.splitlines(), start=1):
        header = table_re.match(line)
        if header and [p.strip() for p in header.group(1).split(".")] == tables:
            return number
    return None
