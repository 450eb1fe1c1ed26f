"""Bot Framework authentication built from our settings.

The SDK reads APP_ID/APP_PASSWORD/APP_TYPE/APP_TENANTID from a configuration object, and an
empty APP_ID switches authentication off. config.settings refuses that unless dev mode was
chosen explicitly, so by the time we get here an empty app id means dev mode.
"""

from __future__ import annotations

from types import SimpleNamespace

from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import CallerIdConstants
from botframework.connector.auth import AuthenticationConstants, BotFrameworkAuthentication

from config.settings import AppType, Settings


def sdk_configuration(settings: Settings) -> SimpleNamespace:
    config = SimpleNamespace(
        APP_ID=settings.app_id,
        APP_PASSWORD=settings.app_password,
        # The SDK's SingleTenant credentials insist on an app id; with none (dev mode) there is
        # no authentication to configure, and its MultiTenant path is the one that allows that.
        APP_TYPE=settings.app_type.value if settings.auth_enabled else AppType.multi_tenant.value,
        APP_TENANTID=settings.app_tenant_id,
    )
    if settings.bot_openid_metadata_url:
        # Setting any of these makes the SDK use its parameterized authentication, which then
        # needs every value; all but the two overridden are the public cloud's.
        tenant = settings.app_tenant_id or AuthenticationConstants.DEFAULT_CHANNEL_AUTH_TENANT
        config.TO_CHANNEL_FROM_BOT_LOGIN_URL = f"{AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX}{tenant}"
        config.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE = AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
        config.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER = settings.bot_token_issuer
        config.OAUTH_URL = AuthenticationConstants.OAUTH_URL
        config.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = settings.bot_openid_metadata_url
        config.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL = (
            AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL
        )
        config.CALLER_ID = CallerIdConstants.public_azure_channel.value
    return config


def build_authentication(settings: Settings) -> BotFrameworkAuthentication:
    return ConfigurationBotFrameworkAuthentication(sdk_configuration(settings))
