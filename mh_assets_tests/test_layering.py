"""The house rules, checked on the source: layers, no circles, one owner of every path.

* ``mh_assets.core`` is science: it never imports Dagster;
* no module is part of an import circle, and every module imports on its own;
* a ``defs`` module imports only ``core``, ``ops`` and the shared wiring helpers
  (partitions, resources, metadata, executor, run config) -- never another asset module;
* only ``mh_assets/core/layout.py`` spells an artifact path.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tokenize
from pathlib import Path

import grimp
import pytest

from mh_assets.core import layout

PACKAGE = Path(__file__).resolve().parents[1] / "mh_assets"
SHARED_DEFS = {"mh_assets.defs.partitions", "mh_assets.defs.resources",
               "mh_assets.defs.metadata", "mh_assets.defs.executor",
               "mh_assets.defs.run_config"}
ARTIFACT_DIRS = layout.MATERIALIZED


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("mh_assets", include_external_packages=True)


def _modules(graph) -> set[str]:
    return {m for m in graph.modules if m == "mh_assets" or m.startswith("mh_assets.")}


def test_core_never_imports_dagster(graph):
    offenders = {m for m in _modules(graph) if m.startswith("mh_assets.core")
                 and graph.find_modules_directly_imported_by(m) & {"dagster"}}
    assert not offenders
    chains = graph.find_shortest_chain(importer="mh_assets.core", imported="dagster")
    assert chains is None


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_package_has_no_import_circles(graph):
    modules = _modules(graph)
    edges = {m: graph.find_modules_directly_imported_by(m) & modules for m in modules}
    assert _cycles(edges) == []


def test_the_cycle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_module_imports_on_its_own(graph):
    """A fresh interpreter imports each module with no mh_assets module loaded before it."""
    modules = sorted(_modules(graph))
    script = (
        "import importlib, sys\n"
        f"failed = []\nfor name in {modules!r}:\n"
        "    for loaded in [m for m in sys.modules if m.split('.')[0] == 'mh_assets']:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n        importlib.import_module(name)\n"
        "    except Exception as err:\n        failed.append(f'{name}: {err!r}')\n"
        "print('\\n'.join(failed))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=600, check=True)
    assert out.stdout.strip() == ""


def test_defs_modules_import_only_core_ops_and_the_shared_helpers(graph):
    defs = {m for m in _modules(graph) if m.startswith("mh_assets.defs.")}
    wrong = {
        module: sorted(imported)
        for module in defs - SHARED_DEFS
        if (imported := graph.find_modules_directly_imported_by(module) & (defs - SHARED_DEFS))
    }
    assert wrong == {}


def _string_literals(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string literal, f-strings included, without prefix and quotes."""
    found = []
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    for token in tokens:
        if token.type == tokenize.STRING:
            body = token.string.lstrip("rRbBfFuU")
            quote = body[:3] if body[:3] in ('"""', "'''") else body[:1]
            found.append((token.start[0], body[len(quote):len(body) - len(quote)]))
        elif token.type == getattr(tokenize, "FSTRING_MIDDLE", None):  # Python 3.12+
            found.append((token.start[0], token.string))
    return found


def artifact_path_literals(root: Path) -> list[str]:
    """Places outside the layout module where a string starts with an artifact folder."""
    hits = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "layout.py" and path.parent.name == "core":
            continue
        for line, text in _string_literals(path):
            head, _, rest = text.partition("/")
            if head in ARTIFACT_DIRS and rest:
                hits.append(f"{path.relative_to(root.parent)}:{line}: {text[:40]}")
    return hits


def test_only_the_layout_module_spells_an_artifact_path():
    assert artifact_path_literals(PACKAGE) == []


def test_the_path_probe_finds_a_path_literal(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "stage.py").write_text(
        'STEM = "tables/sud_by_sex"\nx = f"restricted/clusters/{1}"\nok = "a tables/b"\n')
    assert len(artifact_path_literals(tmp_path / "pkg")) == 2
