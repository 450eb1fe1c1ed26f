"""Graph change-notification subscriptions: create, renew, delete, list.

Graph validates a new subscription's notificationUrl (and lifecycleNotificationUrl) by
posting a validationToken to it before answering; Chaperone's endpoint echoes it. The
permission is the resource's own: Calendars.Read for a calendar's events, CallRecords.Read.All
for call records.
"""

from __future__ import annotations

from datetime import datetime

from msgraph.generated.models.subscription import Subscription as GraphSubscription

from .client import GraphClient, GraphUnavailable


class SubscriptionsGraph:
    def __init__(self, graph: GraphClient) -> None:
        self._graph = graph

    async def create(self, *, resource: str, change_type: str, notification_url: str, client_state: str,
                     expires_at: datetime) -> tuple[str, datetime]:
        """A new subscription; returns Graph's id and the expiry Graph granted."""
        body = GraphSubscription(
            change_type=change_type, resource=resource, notification_url=notification_url,
            lifecycle_notification_url=notification_url, client_state=client_state, expiration_date_time=expires_at,
        )
        made = await self._graph.call("create subscription", lambda sdk: sdk.subscriptions.post(body))
        if made is None or not made.id:
            raise GraphUnavailable("create subscription: Graph returned no subscription")
        return made.id, made.expiration_date_time or expires_at

    async def renew(self, subscription_id: str, expires_at: datetime) -> datetime:
        body = GraphSubscription(expiration_date_time=expires_at)
        made = await self._graph.call("renew subscription",
                                      lambda sdk: sdk.subscriptions.by_subscription_id(subscription_id).patch(body))
        return (made.expiration_date_time if made else None) or expires_at

    async def delete(self, subscription_id: str) -> None:
        try:
            await self._graph.call("delete subscription", lambda sdk: sdk.subscriptions.by_subscription_id(subscription_id).delete())
        except GraphUnavailable as exc:
            if exc.status != 404:  # gone already is what was wanted
                raise
