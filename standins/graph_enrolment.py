"""The Graph stand-in's enrolment, subscription and call-record endpoints (mixed into
GraphStandIn), in Microsoft Graph v1.0's documented shapes:

- GET    /v1.0/appCatalogs/teamsApps?$filter=externalId eq '...'
- POST   /v1.0/chats/{id}/installedApps            {"teamsApp@odata.bind": ".../appCatalogs/teamsApps/{id}"}
- POST   /v1.0/teams/{id}/installedApps            (201, no body; 409 Conflict when installed already)
- POST   /v1.0/users/{id}/teamwork/installedApps
- POST   /v1.0/subscriptions                       (validates notificationUrl and lifecycleNotificationUrl
                                                    first, as Graph does: POST ?validationToken=..., text/plain
                                                    echo within 10 s, else 400)
- PATCH  /v1.0/subscriptions/{id}                  (renew: a new expirationDateTime)
- DELETE /v1.0/subscriptions/{id}
- GET    /v1.0/communications/callRecords          (?$filter=startDateTime ge ... and startDateTime lt ...)
- GET    /v1.0/communications/callRecords/{id}     (?$expand=sessions)
- GET    /v1.0/communications/callRecords/{id}/organizer_v2
- GET    /v1.0/communications/callRecords/{id}/participants_v2

and it sends change notifications and lifecycle notifications (`notify`, `notify_lifecycle`)
to the subscription's notificationUrl, as Graph would.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import aiohttp
from aiohttp import web

MAX_MINUTES = 4230  # Graph's longest lifetime for calendar events and call records
BIND = re.compile(r"appCatalogs/teamsApps/([^/'\"]+)$")


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _identity(person_id: str | None, name: str | None, tenant_id: str | None) -> dict:
    """A communicationsIdentitySet naming one user (or a guest, when there is no Entra id)."""
    if person_id is None:
        return {"@odata.type": "#microsoft.graph.communicationsIdentitySet", "guest": {"id": f"guest-{name}", "displayName": name}}
    return {"@odata.type": "#microsoft.graph.communicationsIdentitySet",
            "user": {"id": person_id, "displayName": name, "tenantId": tenant_id}}


@dataclass
class Teamwork:
    catalog: dict[str, str] = field(default_factory=dict)  # externalId (manifest id) -> catalog id
    installed: dict[tuple[str, str], str] = field(default_factory=dict)  # (chats|teams|users, id) -> catalog id
    refuse_install: set[tuple[str, str]] = field(default_factory=set)  # (scope, id) answered 403
    subscriptions: dict[str, dict] = field(default_factory=dict)
    call_records: dict[str, dict] = field(default_factory=dict)
    validations: list[tuple[str, bool]] = field(default_factory=list)  # (url, echoed correctly?)


class EnrolmentRoutes:
    """Mixed into GraphStandIn: its state lives in `self.teamwork`."""

    @property
    def teamwork(self) -> Teamwork:
        if not hasattr(self, "_teamwork"):
            self._teamwork = Teamwork()
        return self._teamwork

    # ---- scripting ----------------------------------------------------------------------

    def publish_app(self, external_id: str) -> str:
        """Chaperone's package uploaded to the org's app catalog; returns its catalog id."""
        catalog_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"catalog:{external_id}"))
        self.teamwork.catalog[external_id.lower()] = catalog_id
        return catalog_id

    def add_call_record(self, record_id: str, *, kind: str, organizer: tuple[str, str, str], start: datetime, end: datetime,
                        participants: list[tuple[str | None, str, str | None, datetime, datetime]], join_url: str | None = None) -> None:
        """A callRecord: organizer (id, name, tenant); participants (id or None, name, tenant,
        joined, left). A group call has one session per participant (to the conference); a
        peer-to-peer call one session between the two."""
        sessions = []
        if kind == "peerToPeer":
            (a, an, at, s1, e1), (b, bn, bt, _, _) = participants[:2]
            sessions.append({"id": f"{record_id}-s1", "modalities": ["audio", "video"], "startDateTime": _iso(s1), "endDateTime": _iso(e1),
                             "isTest": False, "failureInfo": None,
                             "caller": {"@odata.type": "#microsoft.graph.callRecords.participantEndpoint", "identity": _identity(a, an, at)},
                             "callee": {"@odata.type": "#microsoft.graph.callRecords.participantEndpoint", "identity": _identity(b, bn, bt)}})
        else:
            for index, (pid, name, tenant, joined, left) in enumerate(participants):
                sessions.append({
                    "id": f"{record_id}-s{index + 1}", "modalities": ["audio", "video"], "startDateTime": _iso(joined),
                    "endDateTime": _iso(left), "isTest": False, "failureInfo": None,
                    "caller": {"@odata.type": "#microsoft.graph.callRecords.participantEndpoint", "identity": _identity(pid, name, tenant)},
                    "callee": {"@odata.type": "#microsoft.graph.callRecords.serviceEndpoint", "userAgent": {
                        "@odata.type": "#microsoft.graph.callRecords.serviceUserAgent", "role": "skypeForBusinessConferencing"}},
                })
        self.teamwork.call_records[record_id] = {
            "@odata.type": "#microsoft.graph.callRecords.callRecord", "version": 1, "type": kind, "modalities": ["audio", "video"],
            "lastModifiedDateTime": _iso(end), "startDateTime": _iso(start), "endDateTime": _iso(end), "id": record_id,
            "joinWebUrl": join_url, "organizer": None, "participants": [],  # deprecated: no data since June 2026
            "sessions": sessions,
            "organizer_v2": {"id": organizer[0], "identity": _identity(*organizer), "administrativeUnitInfos": []},
            "participants_v2": [{"id": pid or f"guest-{name}", "identity": _identity(pid, name, tenant), "administrativeUnitInfos": []}
                                for pid, name, tenant, _, _ in participants],
        }

    def subscription_for(self, resource: str) -> dict | None:
        return next((s for s in self.teamwork.subscriptions.values() if s["resource"] == resource), None)

    async def notify(self, subscription_id: str, *, resource: str, resource_data: dict, change_type: str = "created",
                     client_state: str | None = None) -> int:
        """A change notification to the subscription's notificationUrl; returns the HTTP status."""
        sub = self.teamwork.subscriptions[subscription_id]
        item = {"subscriptionId": subscription_id, "subscriptionExpirationDateTime": sub["expirationDateTime"],
                "changeType": change_type, "resource": resource, "resourceData": resource_data,
                "clientState": sub["clientState"] if client_state is None else client_state,
                "tenantId": "5f1b3a1e-0000-4000-8000-5c8001000001"}
        return await self._post_notification(sub["notificationUrl"], {"value": [item]})

    async def notify_lifecycle(self, subscription_id: str, event: str, *, client_state: str | None = None) -> int:
        sub = self.teamwork.subscriptions[subscription_id]
        item = {"subscriptionId": subscription_id, "subscriptionExpirationDateTime": sub["expirationDateTime"],
                "lifecycleEvent": event, "resource": sub["resource"], "organizationId": "5f1b3a1e-0000-4000-8000-5c8001000001",
                "clientState": sub["clientState"] if client_state is None else client_state}
        return await self._post_notification(sub.get("lifecycleNotificationUrl") or sub["notificationUrl"], {"value": [item]})

    @staticmethod
    async def _post_notification(url: str, body: dict) -> int:
        async with aiohttp.ClientSession() as http, http.post(url, json=body, timeout=aiohttp.ClientTimeout(total=30)) as answer:
            return answer.status

    # ---- routes ---------------------------------------------------------------------------

    def enrolment_routes(self, app: web.Application) -> None:
        app.router.add_get("/v1.0/appCatalogs/teamsApps", self._catalog)
        app.router.add_post("/v1.0/chats/{cid}/installedApps", self._install("chats", "cid"))
        app.router.add_post("/v1.0/teams/{tid}/installedApps", self._install("teams", "tid"))
        app.router.add_post("/v1.0/users/{uid}/teamwork/installedApps", self._install("users", "uid"))
        app.router.add_post("/v1.0/subscriptions", self._subscribe)
        app.router.add_patch("/v1.0/subscriptions/{sid}", self._renew)
        app.router.add_delete("/v1.0/subscriptions/{sid}", self._unsubscribe)
        app.router.add_get("/v1.0/communications/callRecords", self._list_call_records)
        app.router.add_get("/v1.0/communications/callRecords/{rid}", self._call_record)
        app.router.add_get("/v1.0/communications/callRecords/{rid}/organizer_v2", self._organizer)
        app.router.add_get("/v1.0/communications/callRecords/{rid}/participants_v2", self._participants)

    async def _catalog(self, request: web.Request) -> web.Response:
        match = re.fullmatch(r"\s*externalId eq '([^']*)'\s*", request.query.get("$filter", ""))
        if not match:
            return _error(400, "BadRequest", "Filter on externalId is required.")
        found = self.teamwork.catalog.get(match.group(1).lower())
        value = [] if found is None else [{"id": found, "externalId": match.group(1), "displayName": "Chaperone",
                                           "distributionMethod": "organization"}]
        return web.json_response({"value": value})

    def _install(self, scope: str, key: str):
        async def handler(request: web.Request) -> web.Response:
            target = request.match_info[key]
            try:
                body = await request.json()
            except ValueError:
                return _error(400, "BadRequest", "The body is not JSON.")
            bound = BIND.search(str(body.get("teamsApp@odata.bind", "")))
            if not bound or bound.group(1) not in self.teamwork.catalog.values():
                return _error(404, "NotFound", "The teamsApp was not found in the app catalog.")
            if (scope, target) in self.teamwork.refuse_install:
                return _error(403, "Forbidden", "Missing role permissions on the request.")
            if (scope, target) in self.teamwork.installed:
                return _error(409, "Conflict", "The app is already installed.")
            self.teamwork.installed[(scope, target)] = bound.group(1)
            return web.Response(status=201)
        return handler

    async def _subscribe(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            expires = datetime.fromisoformat(body["expirationDateTime"].replace("Z", "+00:00"))
            for name in ("changeType", "notificationUrl", "resource"):
                if not isinstance(body.get(name), str) or not body[name]:
                    raise KeyError(name)
        except (ValueError, KeyError, AttributeError):
            return _error(400, "InvalidRequest", "changeType, notificationUrl, resource and expirationDateTime are required.")
        if expires > datetime.now(timezone.utc) + timedelta(minutes=MAX_MINUTES):
            return _error(400, "InvalidRequest", f"Subscription expiration can only be {MAX_MINUTES} minutes in the future.")
        for url in dict.fromkeys(u for u in (body["notificationUrl"], body.get("lifecycleNotificationUrl")) if u):
            if not await self._validate(url):
                return _error(400, "InvalidRequest", f"Subscription validation request failed. Notification endpoint must respond "
                                                     f"with 200 OK to validation request: {url}")
        sub_id = str(uuid.uuid4())
        subscription = {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity", "id": sub_id,
            "resource": body["resource"], "applicationId": "24d3b144-21ae-4080-943f-7067b395b913", "changeType": body["changeType"],
            "clientState": body.get("clientState"), "notificationUrl": body["notificationUrl"],
            "lifecycleNotificationUrl": body.get("lifecycleNotificationUrl"), "expirationDateTime": _iso(expires),
            "creatorId": "8ee44408-0679-472c-bc2a-692812af3437", "latestSupportedTlsVersion": "v1_2",
            "notificationQueryOptions": None, "includeResourceData": False, "encryptionCertificate": None,
            "encryptionCertificateId": None, "notificationUrlAppId": None,
        }
        self.teamwork.subscriptions[sub_id] = subscription
        return web.json_response(subscription, status=201)

    async def _validate(self, url: str) -> bool:
        token = f"Validation: Testing client application reachability for subscription Request-Id: {secrets.token_hex(8)}"
        try:
            async with aiohttp.ClientSession() as http, http.post(
                url, params={"validationToken": token}, data=b"", timeout=aiohttp.ClientTimeout(total=10),
            ) as answer:
                ok = answer.status == 200 and answer.content_type == "text/plain" and await answer.text() == token
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        self.teamwork.validations.append((url, ok))
        return ok

    async def _renew(self, request: web.Request) -> web.Response:
        sub = self.teamwork.subscriptions.get(request.match_info["sid"])
        if sub is None:
            return _error(404, "ResourceNotFound", "The object was not found.")
        try:
            expires = datetime.fromisoformat((await request.json())["expirationDateTime"].replace("Z", "+00:00"))
        except (ValueError, KeyError, TypeError):
            return _error(400, "InvalidRequest", "expirationDateTime is required.")
        if expires > datetime.now(timezone.utc) + timedelta(minutes=MAX_MINUTES):
            return _error(400, "InvalidRequest", f"Subscription expiration can only be {MAX_MINUTES} minutes in the future.")
        sub["expirationDateTime"] = _iso(expires)
        return web.json_response(sub)

    async def _unsubscribe(self, request: web.Request) -> web.Response:
        if self.teamwork.subscriptions.pop(request.match_info["sid"], None) is None:
            return _error(404, "ResourceNotFound", "The object was not found.")
        return web.Response(status=204)

    async def _list_call_records(self, request: web.Request) -> web.Response:
        found = re.fullmatch(r"\s*startDateTime ge (\S+) and startDateTime lt (\S+)\s*", request.query.get("$filter", ""))
        if not found:
            return _error(400, "BadRequest", "Filter on startDateTime (ge and lt) is supported.")
        start, end = (datetime.fromisoformat(v.replace("Z", "+00:00")) for v in found.groups())
        listed = [{k: v for k, v in r.items() if k not in ("organizer_v2", "participants_v2", "sessions")}
                  for r in self.teamwork.call_records.values()
                  if start <= datetime.fromisoformat(r["startDateTime"].replace("Z", "+00:00")) < end]
        return web.json_response({"value": listed})

    def _find_record(self, request: web.Request) -> dict | None:
        return self.teamwork.call_records.get(request.match_info["rid"])

    async def _call_record(self, request: web.Request) -> web.Response:
        record = self._find_record(request)
        if record is None:
            return _error(404, "NotFound", "The call record was not found.")
        out = {k: v for k, v in record.items() if k not in ("organizer_v2", "participants_v2", "sessions")}
        if "sessions" in request.query.get("$expand", ""):
            out["sessions"] = record["sessions"]
        return web.json_response(out)

    async def _organizer(self, request: web.Request) -> web.Response:
        record = self._find_record(request)
        if record is None:
            return _error(404, "NotFound", "The call record was not found.")
        return web.json_response(record["organizer_v2"])

    async def _participants(self, request: web.Request) -> web.Response:
        record = self._find_record(request)
        if record is None:
            return _error(404, "NotFound", "The call record was not found.")
        return web.json_response({"value": record["participants_v2"]})
