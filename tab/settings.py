"""The tab's settings, from the environment (its own, so config/ stays the bot's).

Teams single sign-on: the tab page asks the Teams JavaScript client for a token for the app
registration named in the manifest's webApplicationInfo; its audience is the Application ID
URI `api://<Chaperone's host>/<app id>` (Entra v1 tokens) or the app id (v2 tokens), and it is
signed by Entra's keys for the school's tenant.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ENTRA_METADATA = "https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration"
# The audience of dev sign-in tokens (dev mode only, never accepted otherwise).
DEV_RESOURCE = "api://localhost/chaperone-dev"


class TabSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True)

    # Where Entra publishes the signing keys for the school's tenant ({tenant} is filled in).
    # Only sovereign clouds and the local identity stand-in change it.
    openid_metadata_url: str | None = Field(None, validation_alias="CHAPERONE_TAB_OPENID_METADATA_URL")
    # The app registration the tab's tokens are for: the bot's unless told otherwise.
    app_id: str = Field("", validation_alias=AliasChoices("CHAPERONE_TAB_APP_ID", "MicrosoftAppId", "MICROSOFT_APP_ID"))
    public_url: str | None = Field(None, validation_alias="CHAPERONE_PUBLIC_URL")
    dev_mode: bool = Field(False, validation_alias="CHAPERONE_DEV_MODE")
    # How often Today refreshes itself, in seconds.
    refresh_seconds: int = Field(30, validation_alias="CHAPERONE_TAB_REFRESH_SECONDS", ge=5, le=3600)

    @classmethod
    def for_app(cls, settings) -> "TabSettings":
        """The tab's settings for a running Chaperone: dev mode, the app id and the public URL
        are the service's (config.settings.Settings); the rest from the environment."""
        values = {"dev_mode": settings.dev_mode, "public_url": settings.public_url}
        tab = cls(**values)
        if not tab.app_id:
            tab = cls(**values, app_id=settings.app_id)
        return tab

    @property
    def resource(self) -> str | None:
        """The Application ID URI in the manifest's webApplicationInfo, or None when it cannot be formed."""
        host = urlsplit(self.public_url).hostname if self.public_url else None
        return f"api://{host}/{self.app_id}" if host and self.app_id else None

    @property
    def sso_configured(self) -> bool:
        return self.resource is not None

    @property
    def dev_sign_in(self) -> bool:
        """Dev mode without Teams SSO set up: the tab offers a visible sign-in as one of the
        policy's people, with tokens Chaperone signs itself and accepts only in this mode."""
        return self.dev_mode and not self.openid_metadata_url and not self.sso_configured

    def metadata_url(self, tenant_id: str) -> str:
        return (self.openid_metadata_url or ENTRA_METADATA).replace("{tenant}", tenant_id)
