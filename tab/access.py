"""Who sees what. SLT and the DSL (named in the policy) see the whole school; a member of staff
sees only the lessons they organised or attended as staff; concerns are the DSL's alone;
pupils see nothing. Decided here, on the server, for every page and every download.

In a trust every view is of one school: a school's SLT and DSL see their own school's record
and no other's; a teacher sees their own lessons in each school they teach in; the trust's
safeguarding leads see every school's record and the lessons no school claimed (kept under the
default policy's id), read-only unless the trust file says they act. Someone who is SLT in
one school and a teacher in another sees the first whole and only their own lessons in the
second. The school is chosen with `?school=`; the first of the viewer's schools by default."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from config.policy import Policy
from config.trust import Schools
from domain.records import ExportKind
from store.records import Scope

from .tokens import SignedInUser


class Role(StrEnum):
    slt = "slt"
    dsl = "dsl"
    lead = "lead"  # a trust safeguarding lead: every school's record
    staff = "staff"
    pupil = "pupil"  # anyone Chaperone does not know as staff: sees nothing


class Page(StrEnum):
    today = "today"
    lesson = "lesson"
    register = "register"
    aup = "aup"
    exceptions = "exceptions"
    concerns = "concerns"
    review = "review"
    trust = "trust"  # the trust's leads only: every school side by side


PAGE_TITLES = {
    Page.today: "Today",
    Page.register: "Register",
    Page.aup: "Staff AUP",
    Page.exceptions: "Exceptions",
    Page.concerns: "Concerns",
    Page.review: "Review",
    Page.trust: "Trust",
}


@dataclass(frozen=True)
class SchoolChoice:
    id: str
    name: str


@dataclass(frozen=True)
class Viewer:
    user: SignedInUser
    name: str
    roles: frozenset[Role]  # in the school shown
    # The school shown; None in a single-school deployment, where every record is the school's.
    school_id: str | None = None
    # The schools this viewer may choose between (a picker when more than one).
    schools: tuple[SchoolChoice, ...] = ()
    lead_acts: bool = False  # a trust lead the trust file lets act, not only read
    # The trust's own record (its default policy's id) shown to someone who sees it whole: it
    # also holds the lessons not placed in a school yet.
    with_unplaced: bool = False

    @property
    def aad_object_id(self) -> str:
        return self.user.aad_object_id

    @property
    def whole_school(self) -> bool:
        return bool(self.roles & {Role.slt, Role.dsl, Role.lead})

    @property
    def is_dsl(self) -> bool:
        """Sees concerns: the school's DSL, and the trust's leads."""
        return bool(self.roles & {Role.dsl, Role.lead})

    @property
    def is_lead(self) -> bool:
        return Role.lead in self.roles

    @property
    def may_act(self) -> bool:
        """May change the record where the tab lets SLT (withdraw an exception, review a
        concern): the school's SLT and DSL, and a trust lead who acts; a read-only lead may not."""
        return bool(self.roles & {Role.slt, Role.dsl}) or (self.is_lead and self.lead_acts)

    @property
    def is_staff(self) -> bool:
        return self.whole_school or Role.staff in self.roles

    @property
    def lesson_scope(self) -> str | None:
        """For the store's `viewer` filters: None (the whole school) or this teacher's id."""
        return None if self.whole_school else self.aad_object_id

    @property
    def scope(self) -> Scope:
        """What the store may hand this view: the school shown, and in it perhaps only their lessons."""
        return Scope(school_id=self.school_id, teacher=self.lesson_scope, unplaced=self.with_unplaced and self.whole_school)

    def may_open(self, page: Page) -> bool:
        if not self.is_staff:
            return False
        if page is Page.trust:
            return self.is_lead
        if page in (Page.today, Page.lesson, Page.register):
            return True
        if page is Page.concerns:
            return self.is_dsl
        return self.whole_school  # the staff AUP register, exceptions, the review

    def may_export(self, kind: ExportKind) -> bool:
        if not self.is_staff:
            return False
        if kind is ExportKind.concerns:
            return self.is_dsl
        if kind is ExportKind.audit:
            return self.whole_school
        return True  # lessons, attendance, findings: a teacher's own lessons only

    @property
    def role_label(self) -> str:
        if self.is_lead:
            return "trust lead" if self.lead_acts else "trust lead, read-only"
        if self.is_dsl and Role.slt in self.roles:
            return "SLT and DSL"
        if self.is_dsl:
            return "DSL"
        if Role.slt in self.roles:
            return "SLT"
        return "staff" if self.is_staff else "pupil"


def roles_for(user: SignedInUser, policy: Policy, known_staff: bool) -> frozenset[Role]:
    roles = set()
    if policy.people.is_slt(user.aad_object_id):
        roles.add(Role.slt)
    if policy.people.is_dsl(user.aad_object_id):
        roles.add(Role.dsl)
    if known_staff:
        roles.add(Role.staff)
    return frozenset(roles or {Role.pupil})


def name_for(user: SignedInUser, policy: Policy | Schools) -> str:
    policies = policy.all_policies() if isinstance(policy, Schools) else [policy]
    leads = list(policy.leads) if isinstance(policy, Schools) else []
    for person in leads + [p for pol in policies for p in pol.people.slt + pol.people.dsl]:
        if person.aad_object_id == user.aad_object_id:
            return person.name
    return user.name or "you"


class SchoolRefused(Exception):
    """The `school=` asked for is unknown (`known` False) or not one of the viewer's."""

    def __init__(self, school_id: str, known: bool) -> None:
        super().__init__(school_id)
        self.school_id, self.known = school_id, known


def schools_of(user: SignedInUser, schools: Schools, taught_in: list[str]) -> list[SchoolChoice]:
    """The schools whose record this person may see, in the order offered: a trust lead every
    school and the default policy's ('school unknown'); otherwise the schools they lead, then
    those whose record holds a lesson of theirs."""
    if schools.lead(user.aad_object_id) is not None:
        policies = schools.all_policies()
    else:
        led = {p.school.id for p in schools.where_leader(user.aad_object_id)}
        policies = [p for p in schools.all_policies() if p.school.id in led]
        policies += [p for p in schools.all_policies() if p.school.id in taught_in and p.school.id not in led]
    return [SchoolChoice(p.school.id, p.school.name) for p in policies]


def viewer_for(user: SignedInUser, schools: Schools, known_staff: bool, taught_in: list[str], wanted: str | None) -> Viewer:
    """Who is looking, at which school. Raises SchoolRefused for a school that is unknown or not theirs."""
    name = name_for(user, schools)
    if not schools.is_trust:
        policy = schools.default
        if wanted is not None and wanted != policy.school.id:
            raise SchoolRefused(wanted, known=False)
        return Viewer(user=user, name=name, roles=roles_for(user, policy, known_staff))
    choices = schools_of(user, schools, taught_in)
    if not choices and known_staff:
        # Staff with no lesson recorded yet: an empty view of the first school.
        choices = [SchoolChoice(p.school.id, p.school.name) for p in list(schools)[:1]]
    if wanted is not None:
        if wanted not in {p.school.id for p in schools.all_policies()}:
            raise SchoolRefused(wanted, known=False)
        if wanted not in {c.id for c in choices}:
            raise SchoolRefused(wanted, known=True)
    school_id = wanted or (choices[0].id if choices else schools.ids[0])
    roles = set(roles_for(user, schools.get(school_id), known_staff)) - {Role.pupil}
    lead = schools.lead(user.aad_object_id)
    if lead is not None:
        roles.add(Role.lead)
    return Viewer(user=user, name=name, roles=frozenset(roles or {Role.pupil}), school_id=school_id, schools=tuple(choices),
                  lead_acts=bool(lead and lead.acts), with_unplaced=school_id == schools.default.school.id)
