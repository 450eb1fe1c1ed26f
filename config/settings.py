"""Service settings from the environment (and an optional .env file).

The Bot Framework names (MicrosoftAppId, ...) are the ones Azure Bot Service and its
templates use, so an IT team can reuse the values they already have.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Teams' Bot Connector hosts: public cloud, GCC, GCC High, DoD.
TEAMS_CONNECTOR_HOSTS = (
    "smba.trafficmanager.net",
    "smba.infra.gcc.teams.microsoft.com",
    "smba.infra.gov.teams.microsoft.us",
    "smba.infra.dod.teams.microsoft.us",
)

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/chaperone.sqlite3"


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    app_id: str = Field("", validation_alias=AliasChoices("MicrosoftAppId", "MICROSOFT_APP_ID"))
    app_password: str = Field(
        "", validation_alias=AliasChoices("MicrosoftAppPassword", "MICROSOFT_APP_PASSWORD"), repr=False
    )
    app_type: str = Field(
        "MultiTenant", validation_alias=AliasChoices("MicrosoftAppType", "MICROSOFT_APP_TYPE")
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

    @field_validator("allowed_service_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        # "a,b" from the environment.
        if isinstance(value, str):
            return [h.strip().lower() for h in value.split(",") if h.strip()]
        return value

    @model_validator(mode="after")
    def _auth_is_on_unless_dev_mode(self) -> "Settings":
        if not self.app_id and not self.dev_mode:
            raise ValueError(
                "MicrosoftAppId is empty, which would switch Bot Framework authentication off. "
                "Set MicrosoftAppId and MicrosoftAppPassword, or set CHAPERONE_DEV_MODE=1 for local "
                "development (unauthenticated, loopback service URLs only)."
            )
        if self.app_type.lower() == "singletenant" and not self.app_tenant_id:
            raise ValueError("MicrosoftAppType=SingleTenant needs MicrosoftAppTenantId.")
        for name in ("bot_openid_metadata_url",):
            url = getattr(self, name)
            if url and urlsplit(url).scheme != "https" and not is_loopback_host(urlsplit(url).hostname):
                raise ValueError(f"{name} must be https (plain http is allowed only on loopback)")
        if bool(self.bot_openid_metadata_url) != bool(self.bot_token_issuer):
            raise ValueError(
                "CHAPERONE_BOT_OPENID_METADATA_URL and CHAPERONE_BOT_TOKEN_ISSUER go together"
            )
        return self

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
        if not service_url:
            return "the activity has no serviceUrl"
        parts = urlsplit(service_url)
        host = (parts.hostname or "").lower()
        if self.dev_mode and not self.auth_enabled:
            if parts.scheme in ("http", "https") and is_loopback_host(host):
                return None
            return f"dev mode only talks to loopback service URLs, not {host or service_url!r}"
        if parts.scheme != "https" and not is_loopback_host(host):
            return f"serviceUrl must be https: {service_url!r}"
        for allowed in self.allowed_service_hosts:
            allowed = allowed.lower()
            if host == allowed or host.endswith("." + allowed):
                return None
        return f"serviceUrl host {host!r} is not in CHAPERONE_ALLOWED_SERVICE_HOSTS"


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)
