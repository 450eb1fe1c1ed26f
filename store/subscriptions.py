"""Graph subscriptions Chaperone holds, with their secret clientState: in the database, so
any instance can check a notification and renew a subscription before it expires."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from domain.enrolment import Subscription, SubscriptionPurpose

from .tables import GraphSubscriptionRow, utcnow


class SubscriptionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def add(self, *, subscription_id: str, purpose: SubscriptionPurpose, resource: str, change_type: str, owner_id: str | None,
                  client_state: str, expires_at: datetime) -> None:
        async with self._sessions() as session, session.begin():
            session.add(GraphSubscriptionRow(id=subscription_id, purpose=purpose.value, resource=resource, change_type=change_type,
                                             owner_id=owner_id, client_state=client_state, expires_at=expires_at, created_at=utcnow()))

    async def all(self) -> list[Subscription]:
        async with self._sessions() as session:
            rows = (await session.execute(select(GraphSubscriptionRow).order_by(GraphSubscriptionRow.expires_at))).scalars()
            return [Subscription.model_validate(r) for r in rows]

    async def get(self, subscription_id: str) -> tuple[Subscription, str] | None:
        """The subscription and its clientState secret, or None when Chaperone holds no such one."""
        async with self._sessions() as session:
            row = await session.get(GraphSubscriptionRow, subscription_id)
            return (Subscription.model_validate(row), row.client_state) if row else None

    async def for_resource(self, resource: str) -> Subscription | None:
        async with self._sessions() as session:
            row = (await session.execute(select(GraphSubscriptionRow).where(GraphSubscriptionRow.resource == resource))).scalars().first()
            return Subscription.model_validate(row) if row else None

    async def expiring_before(self, when: datetime) -> list[Subscription]:
        async with self._sessions() as session:
            stmt = select(GraphSubscriptionRow).where(GraphSubscriptionRow.expires_at < when).order_by(GraphSubscriptionRow.expires_at)
            return [Subscription.model_validate(r) for r in (await session.execute(stmt)).scalars()]

    async def renewed(self, subscription_id: str, expires_at: datetime) -> None:
        await self._set(subscription_id, expires_at=expires_at, renewed_at=utcnow(), last_error=None)

    async def failed(self, subscription_id: str, error: str) -> None:
        await self._set(subscription_id, last_error=error[:2000])

    async def remove(self, subscription_id: str) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(delete(GraphSubscriptionRow).where(GraphSubscriptionRow.id == subscription_id))

    async def _set(self, subscription_id: str, **values) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(update(GraphSubscriptionRow).where(GraphSubscriptionRow.id == subscription_id).values(**values))
