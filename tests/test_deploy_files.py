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


# --- Packaging: what production gets, and what it does not ---------------------------------

DEV_ONLY = {"standins", "demo", "tests"}


def test_every_package_of_ours_ships_except_the_stand_ins_and_the_demo():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    include = {pattern.rstrip("*") for pattern in project["packages"]["find"]["include"]}
    ours = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert include == ours - DEV_ONLY
    assert DEV_ONLY <= {pattern.rstrip("*") for pattern in project["packages"]["find"]["exclude"]}
    copied = {line.split()[1] for line in dockerfile().splitlines() if line.startswith("COPY ")}
    assert not copied & DEV_ONLY, "the production image must not carry the stand-ins or the demo"
    assert {"app.py", "cli.py"} <= copied


def test_pyjwt_is_declared_where_it_is_used_and_the_license_is_an_spdx_string():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    # The tab checks Teams single sign-on tokens with it in production; besides, only the
    # stand-ins (which sign tokens) and the tests import it.
    assert any(d.lower().startswith("pyjwt") for d in project["dependencies"])
    users = {p.relative_to(ROOT).parts[0] for p in ROOT.rglob("*.py") if ".venv" not in p.parts
             and re.search(r"^\s*(import jwt|from jwt)", p.read_text(encoding="utf-8"), re.M)}
    assert users == {"standins", "tab"} | (users & {"tests"})
    assert {p.name for p in (ROOT / "tab").rglob("*.py") if re.search(r"^\s*(import jwt|from jwt)", p.read_text(), re.M)} == {"tokens.py"}


def test_env_example_and_the_readme_list_every_setting():
    from config.settings import Settings

    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        variable = alias.choices[0] if hasattr(alias, "choices") else alias
        assert re.search(rf"^#? ?{re.escape(variable)}=", example, re.M), f"{variable} is not in .env.example"
        assert f"`{variable}`" in readme, f"{variable} is not in the README's Configuration table"
    assert "MicrosoftAppType=SingleTenant" in example
