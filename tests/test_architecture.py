"""The import rules of docs/architecture.md, checked on the code itself: data flows one way
(inbound bot/ -> service/ -> outbound/, store/, graph/), rules and cards do no I/O, and the
store knows nothing of the services that use it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
OURS = {"app", "cli", "bot", "service", "outbound", "jobs", "store", "graph", "rules", "cards", "domain", "config",
        "importers", "manifest", "demo", "standins", "tab", "telemetry", "admin", "legal"}
IO = {"aiohttp", "sqlalchemy", "alembic", "asyncpg", "aiosqlite", "botbuilder", "botframework", "msgraph", "msgraph_core",
      "kiota_abstractions", "kiota_http", "kiota_authentication_azure", "azure", "httpx", "requests", "socket", "urllib3"}

# What each folder may import of ours (besides itself). Anything not listed is refused.
MAY_IMPORT = {
    "domain": set(),
    "config": {"domain", "rules"},  # config.startup checks the policy's [rules.*] tables
    "rules": {"domain", "config"},
    "cards": {"domain", "config", "rules"},
    "importers": {"domain"},
    "graph": {"domain", "config", "telemetry"},
    "store": {"domain", "config"},
    "jobs": {"store", "domain", "config", "telemetry"},
    "outbound": {"store", "jobs", "cards", "rules", "domain", "config", "telemetry"},
    "service": {"outbound", "store", "graph", "jobs", "rules", "cards", "importers", "domain", "config", "telemetry"},
    "bot": {"service", "outbound", "store", "jobs", "cards", "rules", "domain", "config", "telemetry"},
    # Logs and metrics: imports nothing of ours, so anything may report through it.
    "telemetry": set(),
    # The operator's tools (`doctor`): reads what the service would use, and changes nothing.
    "admin": {"store", "graph", "outbound", "config", "domain"},
    # The privacy notice and terms pages: built from the policy file alone.
    "legal": {"config", "domain"},
    # The Teams tab reads the record (store) and quotes the rules; it needs no Graph, no cards,
    # and nothing of the lesson service (app.py hands it the AUP status as a protocol).
    "tab": {"store", "rules", "domain", "config", "telemetry"},
}
NO_IO = {"domain", "rules", "cards", "importers", "legal"}


def imports_of(path: Path) -> set[str]:
    """Every top-level package `path` imports, wherever the import statement is."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def modules(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("folder", sorted(MAY_IMPORT))
def test_each_folder_imports_only_what_the_architecture_allows(folder):
    wrong = {}
    for path in modules(folder):
        ours = (imports_of(path) & OURS) - {folder}
        refused = ours - MAY_IMPORT[folder]
        if folder in NO_IO:
            refused |= imports_of(path) & IO
        if refused:
            wrong[str(path.relative_to(ROOT))] = sorted(refused)
    assert not wrong, f"imports the architecture does not allow: {wrong}"


def test_the_checker_sees_imports_inside_functions(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from store.db import ping\n    import sqlalchemy.orm\n", encoding="utf-8")
    assert imports_of(sample) == {"store", "sqlalchemy"}


def test_every_folder_of_ours_has_a_rule():
    folders = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()} - {"tests"}
    assert folders - {"manifest", "demo", "standins"} == set(MAY_IMPORT)
