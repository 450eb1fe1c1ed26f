"""Reading the clause maps a policy file adopts ([school] aup_documents), and checking that
every clause is quoted word for word from its document."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pydantic import ValidationError

from domain.clauses import ClauseMap

BUILT_IN = Path(__file__).resolve().parent.parent / "policies" / "clauses"


def built_in_ids() -> list[str]:
    return sorted(p.stem for p in BUILT_IN.glob("*.toml"))


def load_clause_maps(names: list[str], policy_dir: Path) -> tuple[ClauseMap, ...]:
    """Each adopted document's map: a built-in id ('valence-2022') or a .toml path relative to
    the policy file. No names: every built-in map."""
    maps = []
    for name in names or built_in_ids():
        path = Path(name) if name.endswith(".toml") else BUILT_IN / f"{name}.toml"
        if not path.is_absolute() and name.endswith(".toml"):
            path = policy_dir / path
        maps.append(_load(path, name))
    return tuple(maps)


def _load(path: Path, name: str) -> ClauseMap:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        known = ", ".join(built_in_ids())
        raise ValueError(f"aup_documents: no clause map {name!r} (built in: {known}; or give a .toml path)") from exc
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"aup_documents: cannot read the clause map {path}: {exc}") from exc
    try:
        clause_map = ClauseMap.model_validate({"id": path.stem, **data})
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise ValueError(f"{path}: {'.'.join(map(str, problem['loc']))}: {problem['msg']}") from exc
    _check_quotes(clause_map, path)
    return clause_map


def _normalise(text: str) -> str:
    text = text.replace("·", " ").replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return re.sub(r"\s+", " ", text).strip().lower()


def _check_quotes(clause_map: ClauseMap, path: Path) -> None:
    """A clause that is not in the document's text is a typo or a different version."""
    source = path.parent / clause_map.text
    try:
        document = _normalise(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the document text {source}: {exc.strerror}") from exc
    for clause in clause_map.clause:
        for part in clause.text.split(" ... "):
            if _normalise(part) not in document:
                raise ValueError(f"{path}: the clause for {clause.rule} is not in {source.name} word for word: {part[:80]!r}")
