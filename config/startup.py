"""Reading the settings and the school's policy at start-up, with errors an operator can act on."""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import ValidationError
from pydantic_settings import SettingsError

from rules import registry

from .policy import PolicyError
from .trust import Schools, load_schools
from .settings import Settings

log = logging.getLogger("chaperone")

# The commented example school (both AUPs in ../policies/), used in dev mode and the demo.
EXAMPLE_POLICY = Path(__file__).parent.parent / "policy.example.toml"


class StartupError(RuntimeError):
    """A configuration problem that must stop the service, with a message for the operator."""


def read_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "\n".join(f"  {'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        raise StartupError(f"invalid settings:\n{problems}") from exc
    except SettingsError as exc:
        raise StartupError(f"invalid settings: {exc}") from exc


def read_schools(settings: Settings) -> Schools:
    """The deployment's schools: CHAPERONE_POLICY_FILE is a school's policy or a trust file."""
    path = settings.policy_file
    if path is None:
        if not settings.dev_mode:
            raise StartupError("CHAPERONE_POLICY_FILE is not set: point it at the school's policy file (or the trust file)")
        log.warning("dev mode: no CHAPERONE_POLICY_FILE, using %s", EXAMPLE_POLICY.name)
        path = EXAMPLE_POLICY
    try:
        schools = load_schools(path)
        for policy in schools.all_policies():
            registry.check_policy(policy)
            policy.aup_document()  # a missing AUP text is a start-up error, not a surprise later
        return schools
    except PolicyError as exc:
        raise StartupError(str(exc)) from exc
