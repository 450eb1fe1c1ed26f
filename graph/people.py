"""Who is staff, who is a pupil: the directory's answer, cached.

In order: the education roster's primaryRole (EduRoster.Read.All), then membership of the
school's staff and pupil security groups (GroupMember.Read.All via checkMemberGroups), then
userType (a Guest is external). What none of them settles stays unknown.

A trust's 09:00 brings thousands of new people a minute, so the questions are asked many at
once: Graph JSON batches (20 requests each, graph/batch.py) read as plain JSON, and the
answers kept in memory (bounded, least recently used out first) and in the database
(`SharedAnswers`, store/directory_cache.py), so a restart or a second instance does not ask
about everyone again. Answers expire after the cache TTL: a pupil who becomes staff is seen.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol
from urllib.parse import quote

from cachetools import TLRUCache
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.groups.item.transitive_members.transitive_members_request_builder import TransitiveMembersRequestBuilder
from pydantic import BaseModel

from domain.lesson import DirectoryEntry, PersonClass

from .batch import BatchAnswer, BatchRequest
from .client import GraphClient, GraphUnavailable

log = logging.getLogger(__name__)

MEMORY_LIMIT = 100_000  # people kept in memory (a large trust's staff and pupils)


class SharedAnswers(Protocol):
    """The directory's answers kept where every instance can read them (the database)."""

    async def get_many(self, people: Sequence[str]) -> dict[str, tuple[DirectoryEntry, float]]:
        """Each answer kept, with the seconds it has left."""

    async def put_many(self, answers: Mapping[str, DirectoryEntry], ttl_seconds: float) -> None: ...


Answer = DirectoryEntry | GraphUnavailable


class PeopleDirectory:
    def __init__(
        self,
        graph: GraphClient,
        *,
        staff_groups: tuple[str, ...] = (),
        pupil_groups: tuple[str, ...] = (),
        ttl_seconds: float = 3600,
        shared: SharedAnswers | None = None,
        clock: Callable[[], float] = time.monotonic,
        memory_limit: int = MEMORY_LIMIT,
    ) -> None:
        self._graph = graph
        self._staff_groups = staff_groups
        self._pupil_groups = pupil_groups
        self._ttl = ttl_seconds
        self._shared = shared
        # Each answer kept until its own expiry: one read from the shared cache near its end
        # expires then, not a whole TTL later.
        self._memory: TLRUCache[str, tuple[DirectoryEntry, float]] = TLRUCache(
            maxsize=memory_limit, ttu=lambda _person, kept, _now: kept[1], timer=clock)
        self._clock = clock
        self._in_flight: dict[str, asyncio.Future[DirectoryEntry]] = {}

    async def classify(self, aad_object_id: str) -> DirectoryEntry:
        """One person's class; raises GraphUnavailable when Graph could not be asked."""
        answer = (await self.classify_many([aad_object_id]))[aad_object_id]
        if isinstance(answer, GraphUnavailable):
            raise answer
        return answer

    async def classify_many(self, people: Sequence[str]) -> dict[str, Answer]:
        """Each person's class, or why Graph could not say. Concurrent questions about one
        person share one look-up; what is cached is not asked again."""
        answers: dict[str, Answer] = {}
        waiting: dict[str, asyncio.Future[DirectoryEntry]] = {}
        ask: list[str] = []
        for person in dict.fromkeys(people):
            if (kept := self._memory.get(person)) is not None:
                answers[person] = kept[0]
            elif (pending := self._in_flight.get(person)) is not None:
                waiting[person] = pending
            else:
                ask.append(person)
        if ask:
            loop = asyncio.get_running_loop()
            mine = {person: loop.create_future() for person in ask}
            self._in_flight.update(mine)
            try:
                found, lifetimes = await self._look_up_cached(ask)
            except BaseException as exc:  # cancelled or worse: nobody waits forever
                found = {p: GraphUnavailable(f"the directory look-up stopped: {type(exc).__name__}") for p in ask}
                self._settle(mine, found, {})
                raise
            self._settle(mine, found, lifetimes)
            answers.update(found)
        for person, pending in waiting.items():
            try:
                answers[person] = await asyncio.shield(pending)
            except GraphUnavailable as exc:
                answers[person] = exc
        return answers

    def _settle(self, mine: dict[str, asyncio.Future], found: Mapping[str, Answer], lifetimes: Mapping[str, float]) -> None:
        for person, future in mine.items():
            self._in_flight.pop(person, None)
            answer = found[person]
            if isinstance(answer, GraphUnavailable):
                future.set_exception(answer)
                future.exception()  # retrieved: waiters re-raise it; nobody else must log it
            else:
                self._memory[person] = (answer, self._clock() + lifetimes.get(person, self._ttl))
                future.set_result(answer)

    async def _look_up_cached(self, people: list[str]) -> tuple[dict[str, Answer], dict[str, float]]:
        """Answers, and how long each may be kept (what the shared cache has left, or the TTL)."""
        found: dict[str, Answer] = {}
        lifetimes: dict[str, float] = {}
        if self._shared is not None:
            try:
                shared = await self._shared.get_many(people)
                found.update({p: entry for p, (entry, _) in shared.items()})
                lifetimes.update({p: left for p, (_, left) in shared.items()})
            except Exception as exc:  # noqa: BLE001 - the shared cache is a cache: Graph still answers
                log.warning("directory cache unreadable (%s); asking Graph", type(exc).__name__)
        missing = [p for p in people if p not in found]
        if missing:
            asked = await self._look_up(missing)
            found.update(asked)
            fresh = {p: a for p, a in asked.items() if isinstance(a, DirectoryEntry)}
            if fresh and self._shared is not None:
                try:
                    await self._shared.put_many(fresh, self._ttl)
                except Exception as exc:  # noqa: BLE001 - not kept for others; this instance has it
                    log.warning("directory cache not written (%s)", type(exc).__name__)
        return found, lifetimes

    # ---- Graph ------------------------------------------------------------------------

    async def _look_up(self, people: list[str]) -> dict[str, Answer]:
        """The roster first; the account and group membership for those it does not settle."""
        answers: dict[str, Answer] = {}
        edu = await self._ask(
            [BatchRequest(id=p, url=f"/education/users/{quote(p, safe='')}?$select=id,primaryRole,userPrincipalName,mail") for p in people],
            "education role",
        )
        rest = []
        for person in people:
            reply = edu[person]
            if isinstance(reply, GraphUnavailable):
                if reply.status not in (403, 404):  # 404: not in the roster; 403: no roster permission
                    answers[person] = reply
                    continue
            else:
                role = reply.body.get("primaryRole")
                upn = reply.body.get("userPrincipalName") or reply.body.get("mail")
                if role in ("teacher", "student"):
                    kind = PersonClass.staff if role == "teacher" else PersonClass.pupil
                    answers[person] = DirectoryEntry(classification=kind, upn=upn)
                    continue
            rest.append(person)
        if rest:
            answers.update(await self._account_and_groups(rest))
        return answers

    async def _account_and_groups(self, people: list[str]) -> dict[str, Answer]:
        groups = list(self._staff_groups + self._pupil_groups)
        requests = [BatchRequest(id=f"user:{p}", url=f"/users/{quote(p, safe='')}?$select=id,userType,userPrincipalName,mail") for p in people]
        if groups:
            requests += [BatchRequest(id=f"groups:{p}", method="POST", url=f"/users/{quote(p, safe='')}/checkMemberGroups", body={"groupIds": groups})
                         for p in people]
        replies = await self._ask(requests, "user type and group membership")
        answers: dict[str, Answer] = {}
        for person in people:
            user = replies[f"user:{person}"]
            if isinstance(user, GraphUnavailable):
                answers[person] = user
                continue
            upn = user.body.get("userPrincipalName") or user.body.get("mail")
            if groups:
                found = replies[f"groups:{person}"]
                if isinstance(found, GraphUnavailable):
                    answers[person] = found
                    continue
                member_of = set(found.body.get("value") or [])
                if member_of & set(self._staff_groups):
                    answers[person] = DirectoryEntry(classification=PersonClass.staff, upn=upn)
                    continue
                if member_of & set(self._pupil_groups):
                    answers[person] = DirectoryEntry(classification=PersonClass.pupil, upn=upn)
                    continue
            guest = str(user.body.get("userType") or "").lower() == "guest"
            answers[person] = DirectoryEntry(classification=PersonClass.external if guest else PersonClass.unknown, upn=upn)
        return answers

    async def _ask(self, requests: list[BatchRequest], what: str) -> dict[str, BatchAnswer | GraphUnavailable]:
        """Each request's answer, or why Graph could not give it (graph/batch.py asks a
        throttled one again after its Retry-After)."""
        try:
            got = await self._graph.batch(requests, what)
        except GraphUnavailable as exc:
            return {r.id: exc for r in requests}
        return {r.id: got[r.id] if got[r.id].ok else got[r.id].unavailable(what) for r in requests}


class StaffMember(BaseModel):
    aad_object_id: str
    name: str | None = None
    upn: str | None = None


async def staff_members(graph: GraphClient, group_ids: tuple[str, ...]) -> list[StaffMember]:
    """Everyone in the school's staff groups (transitively), for AUP reminders and status."""
    if not group_ids:
        raise GraphUnavailable("the policy names no staff group ([people] staff_group_ids)")
    found: dict[str, StaffMember] = {}
    for group in group_ids:
        query = TransitiveMembersRequestBuilder.TransitiveMembersRequestBuilderGetQueryParameters(
            select=["id", "displayName", "userPrincipalName"], top=999
        )
        page = await graph.call(
            "staff group members",
            lambda sdk: sdk.groups.by_group_id(group).transitive_members.get(request_configuration=RequestConfiguration(query_parameters=query)),
        )
        while page is not None:
            for member in page.value or []:
                if getattr(member, "odata_type", "") == "#microsoft.graph.user" and member.id:
                    found[member.id] = StaffMember(aad_object_id=member.id, name=getattr(member, "display_name", None),
                                                   upn=getattr(member, "user_principal_name", None))
            next_link = page.odata_next_link
            page = None
            if next_link:
                page = await graph.call(
                    "staff group members",
                    lambda sdk: sdk.groups.by_group_id(group).transitive_members.with_url(next_link).get(),
                )
    return sorted(found.values(), key=lambda m: (m.name or "", m.aad_object_id))
