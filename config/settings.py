"""Service settings from the environment (and an optional .env file).

The Bot Framework names (MicrosoftAppId, ...) are the ones Azure Bot Service and its
templates use, so an IT team can reuse the values they already have.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from yarl import URL

# Teams' Bot Connector hosts: public cloud, GCC, GCC High, DoD.
TEAMS_CONNECTOR_HOSTS = (
    "smba.trafficmanager.net",
    "smba.infra.gcc.teams.microsoft.com",
    "smba.infra.gov.teams.microsoft.us",
    "smba.infra.dod.teams.microsoft.us",
)

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/chaperone.sqlite3"

# What a Bot Connector address may be made of. Teams' are like https://smba.trafficmanager.net/emea/.
# No "@" (userinfo), "\\", "?", "#", spaces or anything non-ASCII: those are where URL parsers
# disagree about the host, and the host that is checked must be the host that is called.
_SERVICE_URL_CHARACTERS = re.compile(r"[A-Za-z0-9._~:/%\[\]-]+")
MAX_SERVICE_URL_LENGTH = 512


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class AppType(StrEnum):
    """How the bot's Entra app registration signs in (Azure Bot's "Type of app")."""

    single_tenant = "SingleTenant"
    multi_tenant = "MultiTenant"
    user_assigned_msi = "UserAssignedMSI"


class LogFormat(StrEnum):
    text = "text"
    json = "json"  # one JSON object per line, with correlation ids (telemetry/logs.py)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    app_id: str = Field("", validation_alias=AliasChoices("MicrosoftAppId", "MICROSOFT_APP_ID"))
    app_password: str = Field(
        "", validation_alias=AliasChoices("MicrosoftAppPassword", "MICROSOFT_APP_PASSWORD"), repr=False
    )
    # Azure Bot Service creates no new multi-tenant bots since July 2025: SingleTenant (with
    # MicrosoftAppTenantId) is what a new registration is. MultiTenant still works for old ones.
    app_type: AppType = Field(
        AppType.single_tenant, validation_alias=AliasChoices("MicrosoftAppType", "MICROSOFT_APP_TYPE")
    )
    app_tenant_id: str = Field(
        "", validation_alias=AliasChoices("MicrosoftAppTenantId", "MICROSOFT_APP_TENANT_ID")
    )

    host: str | None = Field(None, validation_alias="HOST")
    port: int = Field(3978, validation_alias="PORT", ge=1, le=65535)

    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="CHAPERONE_DATABASE_URL")
    policy_file: Path | None = Field(None, validation_alias="CHAPERONE_POLICY_FILE")
    graph_base_url: str = Field(
        "https://graph.microsoft.com/v1.0", validation_alias="CHAPERONE_GRAPH_BASE_URL"
    )
    # Graph credential: the bot's own app registration unless told otherwise.
    graph_credential: Literal["secret", "certificate", "managed-identity"] = Field(
        "secret", validation_alias="CHAPERONE_GRAPH_CREDENTIAL"
    )
    graph_tenant_id: str = Field("", validation_alias="CHAPERONE_GRAPH_TENANT_ID")
    graph_client_id: str = Field("", validation_alias="CHAPERONE_GRAPH_CLIENT_ID")
    graph_client_secret: str = Field("", validation_alias="CHAPERONE_GRAPH_CLIENT_SECRET", repr=False)
    graph_certificate_path: Path | None = Field(None, validation_alias="CHAPERONE_GRAPH_CERTIFICATE_PATH")
    graph_timeout_seconds: float = Field(20.0, validation_alias="CHAPERONE_GRAPH_TIMEOUT_SECONDS", gt=0, le=300)
    graph_cache_ttl_seconds: float = Field(3600.0, validation_alias="CHAPERONE_GRAPH_CACHE_TTL_SECONDS", ge=0)
    # Connections to Graph one process keeps (and opens at most): HTTP/1.1 (aiohttp's pool,
    # graph/metered.py), so each request in flight needs its own and the rest wait for one.
    graph_connections: int = Field(32, validation_alias="CHAPERONE_GRAPH_CONNECTIONS", ge=1, le=512)
    # Graph publishes a meeting's attendance report some minutes after it ends: first look
    # after the first delay, then after each of the others, then give up and say so.
    attendance_report_delays: Annotated[tuple[float, ...], NoDecode] = Field(
        (120, 300, 900, 1800, 3600, 7200), validation_alias="CHAPERONE_ATTENDANCE_REPORT_DELAYS"
    )
    job_poll_seconds: float = Field(5.0, validation_alias="CHAPERONE_JOB_POLL_SECONDS", gt=0)
    # A failed job (a card the Bot Connector refused, say) is retried after this, doubling each time.
    retry_base_seconds: float = Field(5.0, validation_alias="CHAPERONE_RETRY_BASE_SECONDS", gt=0)
    # Joins and leaves arrive in bursts at the start of a lesson: wait this long after one so
    # the burst is classified and judged once, not once per person.
    # A lesson's burst of joins is one roster check: the check waits this long after the first.
    roster_settle_seconds: float = Field(5.0, validation_alias="CHAPERONE_ROSTER_SETTLE_SECONDS", ge=0, le=60)
    # Whether `serve` runs the job worker too. Off: the process only answers Teams, and
    # `python app.py worker` processes (on the same PostgreSQL) do the work, each on a CPU of its own.
    run_worker: bool = Field(True, validation_alias="CHAPERONE_RUN_WORKER")
    # How much `python app.py worker` lowers its own CPU priority (Unix nice), so that an HTTP
    # front on the same machine answers Teams first; 0 leaves it as it is.
    worker_nice: int = Field(10, validation_alias="CHAPERONE_WORKER_NICE", ge=0, le=19)
    # Jobs run at once by one instance (claimed continuously, most urgent first).
    worker_concurrency: int = Field(16, validation_alias="CHAPERONE_WORKER_CONCURRENCY", ge=1, le=256)
    # Connections for appending meeting events, each writing its group commits beside the
    # others' (PostgreSQL; SQLite has one writer anyway), and how many events may wait to be
    # written before Teams is told to retry (503).
    ingest_connections: int = Field(2, validation_alias="CHAPERONE_INGEST_CONNECTIONS", ge=1, le=32)
    ingest_max_waiting: int = Field(500, validation_alias="CHAPERONE_INGEST_MAX_WAITING", ge=10, le=100_000)
    # Activities one process answers at once: a bound on what it holds (memory, and how long
    # the last of them waits). Beyond it an activity is answered 503 with Retry-After at once,
    # before its token or body is read. A bound, not load shedding: at 128 on a machine already
    # at capacity, the refusals Teams delivers again only added to the load (docs/deploy.md).
    max_in_flight: int = Field(512, validation_alias="CHAPERONE_MAX_IN_FLIGHT", ge=1, le=100_000)
    dev_mode: bool = Field(False, validation_alias="CHAPERONE_DEV_MODE")
    allowed_service_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(TEAMS_CONNECTOR_HOSTS),
        validation_alias="CHAPERONE_ALLOWED_SERVICE_HOSTS",
    )
    # Where the Bot Framework channel publishes its token signing keys. Only sovereign
    # clouds and local stand-ins (the benchmark, the auth tests) change these.
    bot_openid_metadata_url: str | None = Field(None, validation_alias="CHAPERONE_BOT_OPENID_METADATA_URL")
    bot_token_issuer: str | None = Field(None, validation_alias="CHAPERONE_BOT_TOKEN_ISSUER")
    log_level: str = Field("INFO", validation_alias="CHAPERONE_LOG_LEVEL")
    log_format: LogFormat = Field(LogFormat.text, validation_alias="CHAPERONE_LOG_FORMAT")
    # Where Teams can reach Chaperone (https://...). With it, the organizer's warning is shown
    # on the meeting stage as a targeted notification; without it, in the meeting chat only.
    public_url: str | None = Field(None, validation_alias="CHAPERONE_PUBLIC_URL")
    # Where Graph sends change notifications; by default the public URL's /api/graph/notifications.
    # Without either, Chaperone holds no Graph subscriptions and relies on its scheduled sweeps.
    graph_notification_url: str | None = Field(None, validation_alias="CHAPERONE_GRAPH_NOTIFICATION_URL")
    # The Teams app's manifest id, which enrolment looks up in the org's app catalog. The
    # manifest uses MicrosoftAppId (manifest/package.py), so only a different package sets this.
    teams_app_id_override: str = Field("", validation_alias="CHAPERONE_TEAMS_APP_ID")
    # Signs the links in those notifications. Without it: a key derived from the app password,
    # or, where there is none (UserAssignedMSI, dev mode), a random key for this process.
    link_secret: str = Field("", validation_alias="CHAPERONE_LINK_SECRET", repr=False)
    # A client that has not sent a whole request's headers in this time is disconnected (the
    # connection's idle timer runs from connect to the end of the headers); one that has not
    # sent the whole body in this time gets 408. Teams sends an activity in well under a second.
    header_timeout_seconds: float = Field(15.0, validation_alias="CHAPERONE_HEADER_TIMEOUT_SECONDS", gt=0, le=300)
    body_timeout_seconds: float = Field(15.0, validation_alias="CHAPERONE_BODY_TIMEOUT_SECONDS", gt=0, le=300)

    @property
    def teams_app_id(self) -> str:
        return self.teams_app_id_override or self.app_id

    @property
    def notification_url(self) -> str | None:
        if self.graph_notification_url:
            return self.graph_notification_url
        return f"{self.public_url.rstrip('/')}/api/graph/notifications" if self.public_url else None

    @field_validator("app_type", mode="before")
    @classmethod
    def _app_type_any_case(cls, value: object) -> object:
        # Azure's templates and people write it in any case ("singletenant", "SingleTenant").
        if isinstance(value, str):
            return next((t for t in AppType if t.value.lower() == value.strip().lower()), value)
        return value

    @field_validator("allowed_service_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        # "a,b" from the environment.
        if isinstance(value, str):
            return [h.strip().lower() for h in value.split(",") if h.strip()]
        return value

    @field_validator("attendance_report_delays", mode="before")
    @classmethod
    def _split_delays(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(float(v) for v in value.split(",") if v.strip())
        return value

    @field_validator("attendance_report_delays")
    @classmethod
    def _some_delays(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(v < 0 for v in value):
            raise ValueError("needs one or more delays in seconds, none negative")
        return value

    @model_validator(mode="after")
    def _graph_defaults_to_the_bot_registration(self) -> "Settings":
        self.graph_tenant_id = self.graph_tenant_id or self.app_tenant_id
        self.graph_client_id = self.graph_client_id or self.app_id
        self.graph_client_secret = self.graph_client_secret or self.app_password
        return self

    @model_validator(mode="after")
    def _auth_is_on_unless_dev_mode(self) -> "Settings":
        if not self.app_id and not self.dev_mode:
            raise ValueError(
                "MicrosoftAppId is empty, which would switch Bot Framework authentication off. "
                "Set MicrosoftAppId and MicrosoftAppPassword, or set CHAPERONE_DEV_MODE=1 for local "
                "development (unauthenticated, loopback service URLs only)."
            )
        if self.auth_enabled and self.app_type is AppType.single_tenant and not self.app_tenant_id:
            raise ValueError(
                "MicrosoftAppType=SingleTenant (the default) needs MicrosoftAppTenantId, the Directory (tenant) ID "
                "of the bot's app registration. An old multi-tenant bot sets MicrosoftAppType=MultiTenant."
            )
        for name in ("bot_openid_metadata_url", "graph_base_url"):
            url = getattr(self, name)
            if url and urlsplit(url).scheme != "https" and not is_loopback_host(urlsplit(url).hostname):
                raise ValueError(f"{name} must be https (plain http is allowed only on loopback)")
        if self.graph_credential == "certificate" and not self.graph_certificate_path:
            raise ValueError("CHAPERONE_GRAPH_CREDENTIAL=certificate needs CHAPERONE_GRAPH_CERTIFICATE_PATH")
        if bool(self.bot_openid_metadata_url) != bool(self.bot_token_issuer):
            raise ValueError(
                "CHAPERONE_BOT_OPENID_METADATA_URL and CHAPERONE_BOT_TOKEN_ISSUER go together"
            )
        if self.public_url and not self.dev_mode and not self.link_secret and not self.app_password:
            # A per-process random key would break every link another instance (or this one,
            # after a restart) signed; a key derived from the app id would be public.
            raise ValueError(
                "CHAPERONE_PUBLIC_URL needs CHAPERONE_LINK_SECRET when there is no app password "
                "(MicrosoftAppType=UserAssignedMSI): set it to a long random value, the same on every instance"
            )
        return self

    @cached_property
    def link_key(self) -> bytes:
        """The key that signs note links: never derived from public values (the app id is in
        the Teams manifest, and dev mode has no password at all)."""
        if self.link_secret:
            return hashlib.sha256(b"chaperone-links:" + self.link_secret.encode()).digest()
        if self.app_password and not self.dev_mode:
            return hmac.new(self.app_password.encode(), b"chaperone-links", hashlib.sha256).digest()
        return secrets.token_bytes(32)

    @property
    def auth_enabled(self) -> bool:
        return bool(self.app_id)

    @property
    def bind_host(self) -> str:
        # Dev mode accepts unauthenticated requests, so it listens on loopback unless told otherwise.
        return self.host or ("127.0.0.1" if self.dev_mode else "0.0.0.0")

    def service_url_refusal(self, service_url: str | None) -> str | None:
        """Why an activity's serviceUrl must not be trusted, or None when it may be used.

        The bot POSTs replies to the serviceUrl an activity names, so an unchecked one turns
        the bot into a relay for whoever can reach /api/messages.
        """
        if not isinstance(service_url, str) or not service_url:
            return "the activity has no serviceUrl"
        if len(service_url) > MAX_SERVICE_URL_LENGTH or not _SERVICE_URL_CHARACTERS.fullmatch(service_url):
            return ("serviceUrl may hold only letters, digits and - . _ ~ : / % [ ] "
                    "(no user name, backslash, query, fragment or spaces)")
        host, scheme = _connect_host(service_url)
        if host is None:
            return "serviceUrl is not a URL whose host every parser reads the same way"
        if scheme not in ("http", "https"):
            return "serviceUrl must be https"
        if self.dev_mode and not self.auth_enabled:
            if is_loopback_host(host):
                return None
            return f"dev mode only talks to loopback service URLs, not {host!r}"
        if scheme != "https" and not is_loopback_host(host):
            return "serviceUrl must be https (plain http only to a loopback host listed in CHAPERONE_ALLOWED_SERVICE_HOSTS)"
        for allowed in self.allowed_service_hosts:
            allowed = allowed.lower()
            if host == allowed or host.endswith("." + allowed):
                return None
        return f"serviceUrl host {host!r} is not in CHAPERONE_ALLOWED_SERVICE_HOSTS"


def _connect_host(service_url: str) -> tuple[str | None, str]:
    """The host aiohttp (yarl) will connect to, when the standard library's parser agrees, and
    the scheme; (None, scheme) when the URL has userinfo or a percent-encoded host, or the
    two parsers read it differently."""
    try:
        called = URL(service_url)
        split = urlsplit(service_url)
        split.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return None, ""
    scheme = (called.scheme or "").lower()
    host = (called.host or "").lower()
    if not host or called.user is not None or called.password is not None or "%" in split.netloc:
        return None, scheme
    if host != (split.hostname or "").lower() or called.query_string or called.fragment:
        return None, scheme
    return host, scheme
