"""Where Chaperone is installed, and which conversation receives which alerts."""

from __future__ import annotations

from cachetools import TTLCache
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.conversations import AlertDestination, AlertPurpose, Conversation, SeenConversation
from domain.placement import SOLE_SCHOOL_ID

from .db import insert_for, read_sessions
from .tables import AlertDestinationRow, ConversationRow, utcnow

# How long a conversation or alert destination read for sending is reused (this instance's own
# changes replace it at once; another instance's are seen this much later). A lesson start's
# cards read them three or four times within a second: at 09:00, 21 starts a second.
SENDING_CACHE_SECONDS = 30.0
SENDING_CACHE_SIZE = 4096


class ConversationStore:
    def __init__(self, engine: AsyncEngine, sending_cache_seconds: float = SENDING_CACHE_SECONDS) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._reads = read_sessions(engine)
        # What the notifier sends to. Only found rows are kept: a destination set or a
        # conversation registered on another instance is seen at the next send.
        self._conversations: TTLCache[str, Conversation] = TTLCache(SENDING_CACHE_SIZE, sending_cache_seconds)
        self._destinations: TTLCache[tuple[AlertPurpose, str], AlertDestination] = TTLCache(SENDING_CACHE_SIZE, sending_cache_seconds)

    async def remember(self, seen: SeenConversation, session: AsyncSession | None = None) -> Conversation:
        """Record (or refresh) a conversation and its reference (in `session`, the caller's
        transaction, when given); `seen.installing` marks an install."""
        if session is None:
            async with self._sessions() as own, own.begin():
                return await self.remember(seen, own)
        if not seen.installing:
            return await self._seen_again(seen, session)
        row = await session.get(ConversationRow, seen.conversation_id, with_for_update=True)
        now = utcnow()
        if row is None:
            row = ConversationRow(conversation_id=seen.conversation_id, installed=seen.installing)
            session.add(row)
        row.scope = seen.scope
        row.service_url = seen.service_url
        row.reference = seen.reference
        row.tenant_id = seen.tenant_id or row.tenant_id
        row.team_id = seen.team_id or row.team_id
        row.channel_id = seen.channel_id or row.channel_id
        row.updated_at = now
        newly = seen.installing and not (row.installed and row.installed_at is not None)
        if seen.installing:
            row.installed = True
            row.installed_at = now
            row.installed_by_aad_id = seen.installed_by
            row.removed_at = None
        await session.flush()
        conversation = Conversation.model_validate(row)
        self._forget(seen.conversation_id)
        return conversation.model_copy(update={"newly_installed": newly})

    async def _seen_again(self, seen: SeenConversation, session: AsyncSession) -> Conversation:
        """A conversation an activity came from (not an install): written in one statement, an
        upsert that returns the row (a meeting chat, at every lesson start)."""
        table = ConversationRow.__table__
        stmt = insert_for(session)(table).values(
            conversation_id=seen.conversation_id, scope=seen.scope, service_url=seen.service_url, reference=seen.reference,
            tenant_id=seen.tenant_id, team_id=seen.team_id, channel_id=seen.channel_id, installed=False, updated_at=utcnow(),
        )
        new = stmt.excluded
        stmt = stmt.on_conflict_do_update(index_elements=[table.c.conversation_id], set_=dict(
            scope=new.scope, service_url=new.service_url, reference=new.reference, updated_at=new.updated_at,
            tenant_id=func.coalesce(new.tenant_id, table.c.tenant_id), team_id=func.coalesce(new.team_id, table.c.team_id),
            channel_id=func.coalesce(new.channel_id, table.c.channel_id),
        )).returning(*table.c)
        conversation = Conversation.model_validate(dict((await session.execute(stmt)).mappings().one()))
        self._forget(seen.conversation_id)
        return conversation

    def keep_for_sending(self, conversation: Conversation) -> None:
        """A conversation this instance has just written (its transaction committed): the next
        card to it is sent without reading it back."""
        self._conversations[conversation.conversation_id] = conversation.model_copy(update={"newly_installed": False})

    async def uninstalled(self, conversation_id: str) -> None:
        async with self._sessions() as session, session.begin():
            row = await session.get(ConversationRow, conversation_id, with_for_update=True)
            if row is not None:
                row.installed = False
                row.removed_at = utcnow()
                row.updated_at = row.removed_at
        self._forget(conversation_id)

    async def get(self, conversation_id: str) -> Conversation | None:
        async with self._reads() as session:
            row = await session.get(ConversationRow, conversation_id)
            return Conversation.model_validate(row) if row else None

    async def for_sending(self, conversation_id: str) -> Conversation | None:
        """The conversation to send to, as read at most `SENDING_CACHE_SECONDS` ago."""
        if (kept := self._conversations.get(conversation_id)) is not None:
            return kept
        found = await self.get(conversation_id)
        if found is not None:
            self._conversations[conversation_id] = found
        return found

    async def destination_for_sending(self, purpose: AlertPurpose, school_id: str = SOLE_SCHOOL_ID) -> AlertDestination | None:
        """Where `school_id`'s `purpose` alerts go, as read at most `SENDING_CACHE_SECONDS` ago."""
        if (kept := self._destinations.get((purpose, school_id))) is not None:
            return kept
        found = await self.alert_destination(purpose, school_id)
        if found is not None:
            self._destinations[(purpose, school_id)] = found
        return found

    def _forget(self, conversation_id: str | None = None, destination: tuple[AlertPurpose, str] | None = None) -> None:
        """This instance changed a conversation or a destination: the next send reads it again.
        A conversation's change reaches every destination that is that conversation (a few per
        school: looked through; the meeting chats are many and are not)."""
        if destination is not None:
            self._destinations.pop(destination, None)
        if conversation_id is not None:
            self._conversations.pop(conversation_id, None)
            for key, kept in list(self._destinations.items()):
                if kept.conversation.conversation_id == conversation_id:
                    self._destinations.pop(key, None)

    async def latest_service_url(self) -> str | None:
        """The Bot Connector address Teams used most recently (for chats Chaperone starts)."""
        async with self._reads() as session:
            stmt = select(ConversationRow.service_url).order_by(ConversationRow.updated_at.desc()).limit(1)
            return (await session.execute(stmt)).scalar_one_or_none()

    async def set_alert_destination(
        self, purpose: AlertPurpose, conversation_id: str, set_by_aad_id: str, set_by_name: str | None, school_id: str = SOLE_SCHOOL_ID
    ) -> None:
        """Where `school_id`'s alerts of this purpose go (each school of a trust has its own)."""
        async with self._sessions() as session, session.begin():
            row = await session.get(AlertDestinationRow, (school_id, purpose.value), with_for_update=True)
            if row is None:
                row = AlertDestinationRow(school_id=school_id, purpose=purpose.value)
                session.add(row)
            row.conversation_id = conversation_id
            row.set_by_aad_id = set_by_aad_id
            row.set_by_name = set_by_name
            row.set_at = utcnow()
        self._forget(destination=(purpose, school_id))

    async def alert_destination(self, purpose: AlertPurpose, school_id: str = SOLE_SCHOOL_ID) -> AlertDestination | None:
        async with self._reads() as session:
            row = await session.get(AlertDestinationRow, (school_id, purpose.value))
            if row is None:
                return None
            return await self._destination(session, row)

    async def destinations_in(self, conversation_id: str) -> list[AlertDestination]:
        """Every school's destination (of either purpose) that is this conversation."""
        async with self._reads() as session:
            stmt = (select(AlertDestinationRow).where(AlertDestinationRow.conversation_id == conversation_id)
                    .order_by(AlertDestinationRow.school_id, AlertDestinationRow.purpose))
            return [await self._destination(session, row) for row in (await session.execute(stmt)).scalars()]

    @staticmethod
    async def _destination(session, row: AlertDestinationRow) -> AlertDestination:
        conversation = await session.get(ConversationRow, row.conversation_id)
        return AlertDestination(
            purpose=AlertPurpose(row.purpose),
            school_id=row.school_id,
            conversation=Conversation.model_validate(conversation),
            set_by_aad_id=row.set_by_aad_id,
            set_by_name=row.set_by_name,
            set_at=row.set_at,
        )
