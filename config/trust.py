"""The schools one Chaperone serves: one school's policy file, or a trust file naming many.

A multi-academy trust runs one deployment for all its schools, usually in one Microsoft 365
tenant. Its trust file names each school's own policy file (hours, term dates, rules, SLT, DSL,
AUP, retention: exactly what a single school's file holds), the trust's safeguarding leads, how
long an alert may go unacknowledged before they are told, and the default policy that judges a
lesson no school can claim. A single school needs no trust file: its policy file is read as
before, and every lesson is that school's.

`CHAPERONE_POLICY_FILE` points at either; a file with a `[trust]` table is a trust file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from domain.placement import SOLE_SCHOOL_ID

from .policy import Person, Policy, PolicyError, line_of, load_policy, parse_policy


class TrustLead(Person):
    """A trust safeguarding lead: sees every school's record. Read-only unless `acts`."""

    acts: bool = False


class TrustSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    # Each school's policy file, relative to the trust file.
    schools: list[Path] = Field(min_length=1)
    # The policy for a lesson no school claims ("school unknown"): its [privacy] and
    # [retention] are also the trust's own. Its [school] id must differ from every school's.
    default_policy: Path
    leads: list[TrustLead] = Field(default_factory=list)
    # A school's breach alert left unacknowledged this long is escalated to the trust's leads.
    escalate_after_minutes: float = Field(60, gt=0, le=7 * 24 * 60)


class _TrustFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    trust: TrustSettings


class Schools:
    """The deployment's schools, their policies, and the policy for lessons none claims."""

    def __init__(self, schools: Sequence[Policy], default: Policy, trust: TrustSettings | None = None) -> None:
        self._by_id = {p.school.id: p for p in schools}
        self.default = default
        self.trust = trust

    @classmethod
    def single(cls, policy: Policy) -> "Schools":
        """One school, no trust: every lesson is this school's, and every record is kept under
        the id "school" whatever its `[school] id` says (that id names a school in a trust), so
        no part of Chaperone reads one id while another writes the other."""
        if policy.school.id != SOLE_SCHOOL_ID:
            policy = policy.model_copy(update={"school": policy.school.model_copy(update={"id": SOLE_SCHOOL_ID})})
        return cls([policy], policy)

    @property
    def is_trust(self) -> bool:
        return self.trust is not None

    @property
    def name(self) -> str:
        """The trust's name, or the single school's."""
        return self.trust.name if self.trust else self.default.school.name

    @property
    def sole(self) -> Policy | None:
        """The one school of a single-school deployment (None in a trust)."""
        return None if self.trust else self.default

    def __iter__(self) -> Iterator[Policy]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._by_id)

    def get(self, school_id: str | None) -> Policy:
        """The policy a lesson or record of this school is judged by; the default policy for
        a lesson no school claimed (None) or a school no longer in the trust file."""
        if school_id is None:
            return self.default
        return self._by_id.get(school_id, self.default)

    def known(self, school_id: str | None) -> bool:
        return school_id is not None and school_id in self._by_id

    def all_policies(self) -> list[Policy]:
        """Every policy in force: the schools' and, in a trust, the default one."""
        return list(self._by_id.values()) + ([self.default] if self.trust else [])

    @property
    def tenants(self) -> frozenset[str]:
        """The tenants the deployment's schools sign in from (empty: none configured)."""
        return frozenset(t for p in self.all_policies() if (t := p.school.tenant_id))

    @property
    def leads(self) -> tuple[TrustLead, ...]:
        return tuple(self.trust.leads) if self.trust else ()

    def lead(self, aad_object_id: str | None) -> TrustLead | None:
        return next((p for p in self.leads if aad_object_id and p.aad_object_id == aad_object_id), None)

    def where_slt(self, aad_object_id: str | None) -> list[Policy]:
        """The schools (default policy included) whose SLT names this person."""
        return [p for p in self.all_policies() if p.people.is_slt(aad_object_id)]

    def where_dsl(self, aad_object_id: str | None) -> list[Policy]:
        return [p for p in self.all_policies() if p.people.is_dsl(aad_object_id)]

    def where_leader(self, aad_object_id: str | None) -> list[Policy]:
        """The schools where this person is SLT or DSL."""
        return [p for p in self.all_policies() if p.people.is_slt(aad_object_id) or p.people.is_dsl(aad_object_id)]

    @property
    def staff_group_ids(self) -> tuple[str, ...]:
        """Every school's staff groups: staff of any school is staff (a teacher works in two)."""
        return tuple(dict.fromkeys(g for p in self.all_policies() for g in p.people.staff_group_ids))

    @property
    def pupil_group_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(g for p in self.all_policies() for g in p.people.pupil_group_ids))


def load_schools(path: Path) -> Schools:
    """A school's policy file (one school) or a trust file (many)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: not valid TOML: {exc}") from exc
    if "trust" not in data:
        return Schools.single(parse_policy(text, source=str(path)))
    try:
        trust = _TrustFile.model_validate(data).trust
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            line = line_of(text, loc)
            problems.append(f"  {'line ' + str(line) + ': ' if line else ''}{'.'.join(loc)}: {err['msg']}")
        raise PolicyError(f"{path}: the trust file is not valid:\n" + "\n".join(problems)) from exc
    base = path.parent
    schools = [load_policy(p if p.is_absolute() else base / p) for p in trust.schools]
    default = load_policy(trust.default_policy if trust.default_policy.is_absolute() else base / trust.default_policy)
    seen: dict[str, Path] = {}
    for policy, file in zip(schools, trust.schools):
        if policy.school.id in seen:
            raise PolicyError(f"{path}: schools {seen[policy.school.id]} and {file} both have [school] id "
                              f"{policy.school.id!r}: each school needs its own id")
        seen[policy.school.id] = file
    if default.school.id in seen:
        raise PolicyError(f"{path}: the default policy's [school] id {default.school.id!r} is also "
                          f"{seen[default.school.id]}'s: give the default policy an id of its own (e.g. \"trust\")")
    return Schools(schools, default, trust)


def parse_schools(text: str, source: str = "<policy>") -> Schools:
    """For tests and tools: a single school's policy text (trust files name other files)."""
    return Schools.single(parse_policy(text, source=source))
