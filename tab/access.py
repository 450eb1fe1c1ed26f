"""Who sees what. SLT and the DSL (named in the policy) see the whole school; a member of staff
sees only the lessons they organised or attended as staff; concerns are the DSL's alone;
pupils see nothing. Decided here, on the server, for every page and every download."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from config.policy import Policy
from domain.records import ExportKind

from .tokens import SignedInUser


class Role(StrEnum):
    slt = "slt"
    dsl = "dsl"
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


PAGE_TITLES = {
    Page.today: "Today",
    Page.register: "Register",
    Page.aup: "Staff AUP",
    Page.exceptions: "Exceptions",
    Page.concerns: "Concerns",
    Page.review: "Review",
}


@dataclass(frozen=True)
class Viewer:
    user: SignedInUser
    name: str
    roles: frozenset[Role]

    @property
    def aad_object_id(self) -> str:
        return self.user.aad_object_id

    @property
    def whole_school(self) -> bool:
        return bool(self.roles & {Role.slt, Role.dsl})

    @property
    def is_dsl(self) -> bool:
        return Role.dsl in self.roles

    @property
    def is_staff(self) -> bool:
        return self.whole_school or Role.staff in self.roles

    @property
    def lesson_scope(self) -> str | None:
        """For the store's `viewer` filters: None (the whole school) or this teacher's id."""
        return None if self.whole_school else self.aad_object_id

    def may_open(self, page: Page) -> bool:
        if not self.is_staff:
            return False
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


def name_for(user: SignedInUser, policy: Policy) -> str:
    for person in policy.people.slt + policy.people.dsl:
        if person.aad_object_id == user.aad_object_id:
            return person.name
    return user.name or "you"
