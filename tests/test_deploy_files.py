"""The production image and compose file: what a Docker build would only show at run time."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).parent.parent


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def test_the_image_copies_every_package_the_project_installs():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {pattern.rstrip("*") for pattern in project["packages"]["find"]["include"]}
    copied = {line.split()[1] for line in dockerfile().splitlines() if line.startswith("COPY ")}
    assert packages <= copied
    assert {f"{module}.py" for module in project["py-modules"]} <= copied
    # Package data the service reads at run time (AUP texts; the example policy) is there too.
    assert {"policies", "policy.example.toml", "pyproject.toml"} <= copied


def test_the_image_is_slim_runs_as_a_non_root_user_and_checks_its_health():
    text = dockerfile()
    assert re.search(r"^FROM python:3\.1[1-9]-slim\b", text, re.M)
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, re.M)
    assert 'CMD ["python", "app.py", "serve"]' in text


def test_compose_runs_chaperone_on_postgresql_with_authentication_on():
    text = (ROOT / "compose.yaml").read_text()
    assert "image: postgres:" in text and "CHAPERONE_DATABASE_URL: postgresql+asyncpg://" in text
    assert "CHAPERONE_DEV_MODE" not in text
    assert "MicrosoftAppId: ${MicrosoftAppId:?" in text and "MicrosoftAppPassword: ${MicrosoftAppPassword:?" in text
