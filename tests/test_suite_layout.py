"""The test suite's own rules, checked on its source: shared helpers live in helpers.py (no test
file imports another test file or conftest.py, and conftest.py holds fixtures only), and a
test that starts the app or a stand-in is marked e2e, so the fast lane stays fast."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent
# Fixtures that start the app or a stand-in server, and names that start the app or another
# process: a test that uses one is end to end.
SERVER_FIXTURES = {"dev_app", "any_dev_app", "connector", "graph", "identity", "postgres_database"}
STARTERS = {"run_app", "serve_in_process", "run_demo", "follow_the_day", "subprocess"}


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported_test_modules(tree: ast.Module) -> set[str]:
    """The test files and conftest modules that `tree` imports (relatively, or as tests.*)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0 and not (node.module or "").startswith("tests."):
                continue
            module = (node.module or "").removeprefix("tests.")
            candidates = [module.split(".")[0]] if module else [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            candidates = [alias.name.removeprefix("tests.") for alias in node.names if alias.name.startswith("tests.")]
        else:
            continue
        found |= {name for name in candidates if name == "conftest" or name.startswith("test_")}
    return found


def is_e2e_mark(node: ast.expr) -> bool:
    return ast.unparse(node) in ("pytest.mark.e2e", "pytest.mark.e2e()")


def module_is_e2e(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "pytestmark" for t in node.targets)
        and (is_e2e_mark(node.value) or (isinstance(node.value, ast.List) and any(map(is_e2e_mark, node.value.elts))))
        for node in tree.body
    )


def test_no_test_file_imports_another_test_file_or_conftest():
    offenders = {
        path.name: found
        for path in sorted(TESTS.glob("*.py"))
        if (found := imported_test_modules(parse(path)))
    }
    assert offenders == {}, "shared helpers belong in tests/helpers.py"


def test_the_checker_sees_relative_and_absolute_imports_of_test_files():
    tree = ast.parse("from .test_graph_e2e import script\nfrom . import conftest\nfrom tests.test_x import y\n"
                     "from .helpers import script\nimport tests.conftest\n")
    assert imported_test_modules(tree) == {"test_graph_e2e", "conftest", "test_x"}


def test_conftest_holds_fixtures_only():
    functions = [node for node in parse(TESTS / "conftest.py").body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    not_fixtures = [f.name for f in functions if not any("pytest.fixture" in ast.unparse(d) for d in f.decorator_list)]
    assert functions and not_fixtures == []
    classes = [node.name for node in parse(TESTS / "conftest.py").body if isinstance(node, ast.ClassDef)]
    assert classes == []


def test_every_test_that_starts_the_app_or_a_stand_in_is_marked_e2e():
    unmarked = []
    for path in sorted(TESTS.glob("test_*.py")):
        tree = parse(path)
        if module_is_e2e(tree):
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_"):
                names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
                uses = ({a.arg for a in node.args.args} & SERVER_FIXTURES) | (names & STARTERS)
                if uses and not any(is_e2e_mark(d) for d in node.decorator_list):
                    unmarked.append(f"{path.name}::{node.name}")
    assert unmarked == []
