"""The house rules, read from the source with ``ast`` (no module is imported by the checker).

- no import cycles between modules (function-level imports count: they hide cycles, they do not remove them);
- no upward import in the layer order of docs/architecture.md
  (cli > report > documents > gallery > experiments, plotting > claims > train > data > proofs > theory
  > stats > validation, outputs); sideways imports only within one package;
- no ``from x import _name`` of a private name from another module, no ``module._name`` on another module;
- no Python file in the repository over 600 lines;
- ``theory``, ``proofs`` and ``stats`` never import torch (directly, or through the modules they import);
- every file path named in docs/architecture.md exists, and every ``path.py:name`` names a top-level definition;
- no file cites ``math.md`` or ``paper.md`` (they are not in the repository; cite docs/derivations/, docs/provenance.md).

Each rule is a function returning a list of offences ``path:line: message``; the synthetic trees at the end show
that each rule reports the violation it is meant to catch.
"""

from __future__ import annotations

import ast
import pathlib
import re
import subprocess
import sys
from dataclasses import dataclass

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = "collapse_theory"

LAYERS: dict[str, int] = {
    "collapse_theory.__main__": 13,
    "collapse_theory.cli": 12,
    "collapse_theory.report": 11,
    "collapse_theory.documents": 10,
    "collapse_theory.gallery": 9,
    "collapse_theory.experiments": 8, "collapse_theory.plotting": 8,
    "collapse_theory.claims": 7,
    "collapse_theory.train": 6,
    "collapse_theory.data": 5,
    "collapse_theory.proofs": 4,
    "collapse_theory.theory": 3,
    "collapse_theory.stats": 2,
    "collapse_theory.validation": 1, "collapse_theory.outputs": 1,
    "collapse_theory": 0,
}
"""Module prefix -> rank (higher stands on lower); the most specific prefix wins. Within the team's levels
"report, documents, gallery" and "stats, validation, outputs" the code fixes an order, kept here: ``report``
(reproduce: verify, figures, report) stands on ``documents``, which reads each claim's figures from ``gallery``;
``stats`` validates its arguments with ``validation``. The package root holds only ``__version__`` (rank 0)."""

TORCH_FREE = ("collapse_theory.theory", "collapse_theory.proofs", "collapse_theory.stats")
TORCH = {"torch", "torchdiffeq", "torchvision", "torchcfm", "torchmetrics"}
MAX_LINES = 600
SKIP_DIRS = {"build", "dist", "node_modules", "site-packages", "__pycache__", "reproduce-output", "runs"}


@dataclass(frozen=True)
class Edge:
    """``source`` imports ``target`` at ``path:line``; ``names`` are the names of a ``from`` import;
    ``toplevel`` is False for an import inside a function or class body."""

    source: str
    target: str
    path: str
    line: int
    names: tuple[str, ...]
    toplevel: bool


# ---------------------------------------------------------------------------------------------- the graph
def package_modules(root: pathlib.Path, package: str = PACKAGE) -> dict[str, pathlib.Path]:
    """Module name -> file for every ``.py`` under ``root/package`` (``pkg/__init__.py`` is ``pkg``)."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Yield (import node, toplevel) for every import that executes (``if TYPE_CHECKING:`` blocks skipped)."""
    def walk(node, toplevel):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    yield from walk(ast.Module(body=[sub], type_ignores=[]), toplevel)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, toplevel
            inner = toplevel and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                                        ast.Lambda))
            yield from walk(child, inner)
    yield from walk(tree, True)


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_edges(modules: dict[str, pathlib.Path], root: pathlib.Path, package: str = PACKAGE) -> list[Edge]:
    """Every import of a module of ``package`` by a module of ``package`` (to the most specific module named:
    ``from a.b import c`` is an edge to ``a.b.c`` when that is a module, else to ``a.b``)."""
    edges = []
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        rel = str(path.relative_to(root))
        for node, toplevel in _imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    target = _known(alias.name, modules)
                    if target:
                        edges.append(Edge(name, target, rel, node.lineno, (), toplevel))
                continue
            base = _absolute(name, is_package, node)
            if not (base == package or base.startswith(package + ".")):
                continue
            plain = []
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in modules:
                    edges.append(Edge(name, sub, rel, node.lineno, (), toplevel))
                else:
                    plain.append(alias.name)
            target = _known(base, modules)
            if plain and target:
                edges.append(Edge(name, target, rel, node.lineno, tuple(plain), toplevel))
    return [e for e in edges if e.target != e.source]


def _known(dotted: str, modules) -> str | None:
    """The longest prefix of ``dotted`` that is a module of the package, or None."""
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in modules:
            return ".".join(parts[:n])
    return None


def _graph(root: pathlib.Path, package: str):
    modules = package_modules(root, package)
    return modules, import_edges(modules, root, package)


# ---------------------------------------------------------------------------------------------- the rules
def cycle_offences(root: pathlib.Path = REPO, package: str = PACKAGE) -> list[str]:
    """One offence per strongly connected component of the import graph with more than one module, listing
    the imports that close it (Tarjan's algorithm; function-level imports are edges too)."""
    modules, edges = _graph(root, package)
    succ: dict[str, set[str]] = {m: set() for m in modules}
    for e in edges:
        succ[e.source].add(e.target)
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(succ[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            comps.append(comp)

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(modules) + 100))
    for v in sorted(modules):
        if v not in index:
            strong(v)
    out = []
    for comp in comps:
        if len(comp) > 1:
            inside = sorted({f"{e.path}:{e.line}: {e.source} -> {e.target}" + ("" if e.toplevel else " (in a function)")
                             for e in edges if e.source in comp and e.target in comp})
            out.append(f"import cycle among {', '.join(sorted(comp))}:\n      " + "\n      ".join(inside))
    return out


def rank(module: str, layers: dict[str, int] = LAYERS) -> tuple[int, str]:
    """(rank, prefix) of the most specific prefix of ``layers`` that ``module`` falls under."""
    best = max((p for p in layers if module == p or module.startswith(p + ".")), key=len, default=None)
    if best is None:
        raise KeyError(f"{module} is in no layer: add its prefix to LAYERS in tests/test_architecture.py")
    return layers[best], best


def layer_offences(root: pathlib.Path = REPO, package: str = PACKAGE,
                   layers: dict[str, int] = LAYERS) -> list[str]:
    """Imports that point up, or sideways between two packages of the same rank."""
    modules, edges = _graph(root, package)
    out = []
    for e in edges:
        (rs, ps), (rt, pt) = rank(e.source, layers), rank(e.target, layers)
        if rt > rs or (rt == rs and ps != pt):
            direction = "up" if rt > rs else "sideways across packages"
            out.append(f"{e.path}:{e.line}: {e.source} ({ps}, rank {rs}) imports {e.target} "
                       f"({pt}, rank {rt}): {direction}")
    return sorted(out)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_offences(root: pathlib.Path = REPO, package: str = PACKAGE) -> list[str]:
    """``from other import _name`` and ``other._name`` where ``other`` is another module of the package (a private
    submodule imported from its own parent package is allowed)."""
    modules, edges = _graph(root, package)
    out = []
    for e in edges:
        for n in e.names:
            if _private(n):
                out.append(f"{e.path}:{e.line}: {e.source} imports private {e.target}.{n}")
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        rel = str(path.relative_to(root))
        tree = ast.parse(path.read_text(), str(path))
        bound: dict[str, str] = {}  # local name -> module it is bound to
        for node, _ in _imports(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname and alias.name in modules:
                        bound[alias.asname] = alias.name
                    elif not alias.asname and alias.name.split(".")[0] == package:
                        bound[package] = package
            else:
                base = _absolute(name, is_package, node)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    if sub in modules:
                        bound[alias.asname or alias.name] = sub
                        if _private(alias.name) and base != ".".join(name.split(".")[:-1]) and base != name:
                            out.append(f"{rel}:{node.lineno}: {name} imports private module {sub}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _private(node.attr):
                chain, value = [], node.value
                while isinstance(value, ast.Attribute):
                    chain.append(value.attr)
                    value = value.value
                if isinstance(value, ast.Name) and value.id in bound:
                    target = ".".join([bound[value.id]] + chain[::-1])
                    if target in modules and target != name:
                        out.append(f"{rel}:{node.lineno}: {name} uses private {target}.{node.attr}")
    return sorted(set(out))


def python_files(root: pathlib.Path = REPO) -> list[pathlib.Path]:
    """Every ``.py`` file of the repository (hidden folders, virtual environments and build outputs skipped)."""
    out = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts[:-1]
        if any(p.startswith(".") or p in SKIP_DIRS or p.endswith(".egg-info") or (root / p / "pyvenv.cfg").exists()
               for p in parts):
            continue
        out.append(path)
    return out


def size_offences(root: pathlib.Path = REPO, limit: int = MAX_LINES) -> list[str]:
    out = []
    for path in python_files(root):
        n = len(path.read_text().splitlines())
        if n > limit:
            out.append(f"{path.relative_to(root)}:{n}: {n} lines (limit {limit})")
    return out


def torch_offences(root: pathlib.Path = REPO, package: str = PACKAGE,
                   torch_free: tuple[str, ...] = TORCH_FREE) -> list[str]:
    """A torch-free module that imports torch anywhere in its body, or that reaches a module importing torch at
    its top level through its own top-level imports (what ``import`` of it would execute)."""
    modules, edges = _graph(root, package)
    free = [m for m in modules if any(m == p or m.startswith(p + ".") for p in torch_free)]
    direct_top: dict[str, str] = {}
    out = []
    for name, path in modules.items():
        rel = str(path.relative_to(root))
        for node, toplevel in _imports(ast.parse(path.read_text(), str(path))):
            roots = ([a.name.split(".")[0] for a in node.names] if isinstance(node, ast.Import)
                     else [(node.module or "").split(".")[0]] if not node.level else [])
            hit = next((r for r in roots if r in TORCH), None)
            if not hit:
                continue
            if toplevel:
                direct_top.setdefault(name, f"{rel}:{node.lineno}")
            if name in free:
                out.append(f"{rel}:{node.lineno}: {name} imports {hit}")
    top_succ: dict[str, set[str]] = {m: set() for m in modules}
    for e in edges:
        if e.toplevel:
            top_succ[e.source].add(e.target)
    for start in free:
        seen, todo, via = {start}, [start], {start: None}
        while todo:
            m = todo.pop()
            for t in sorted(top_succ[m] - seen):
                seen.add(t)
                via[t] = m
                todo.append(t)
        for m in sorted(seen - {start}):
            if m in direct_top:
                chain, x = [], m
                while x is not None:
                    chain.append(x)
                    x = via[x]
                out.append(f"{modules[start].relative_to(root)}:1: {start} reaches torch through "
                           f"{' -> '.join(chain[::-1])} ({direct_top[m]})")
    return sorted(set(out))


CITE = re.compile(r"\b(math|paper)\.md\b")


def citation_offences(root: pathlib.Path = REPO) -> list[str]:
    """Lines of the repository's Python files, docs and README that cite ``math.md`` or ``paper.md``."""
    paths = python_files(root) + sorted((root / "docs").rglob("*.md")) + [root / "README.md"]
    out = []
    for path in paths:
        if not path.exists() or path.resolve() == pathlib.Path(__file__).resolve():
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if CITE.search(line):
                out.append(f"{path.relative_to(root)}:{i}: {line.strip()[:100]}")
    return out


CITED = re.compile(r"docs/(derivations/[\w-]+\.md|provenance\.md)(?:\s*(?:§|section\s+)(\d+))?")


def cited_section_offences(root: pathlib.Path = REPO) -> list[str]:
    """Each citation of the toolkit's maths pages, ``docs/derivations/<page>.md`` or ``docs/provenance.md`` (optionally
    with ``§N`` or ``section N``), in the repository's Python files and docs must name an existing page and, with a
    number, a heading ``## N.`` of that page."""
    paths = python_files(root) + sorted((root / "docs").rglob("*.md")) + [root / "README.md"]
    out = []
    for path in paths:
        if not path.exists() or path.resolve() == pathlib.Path(__file__).resolve():
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            for m in CITED.finditer(line):
                page, section = root / "docs" / m.group(1), m.group(2)
                where = f"{path.relative_to(root)}:{i}"
                if not page.exists():
                    out.append(f"{where}: cites docs/{m.group(1)}, which does not exist")
                elif section and not re.search(rf"^## {section}\.", page.read_text(), re.M):
                    out.append(f"{where}: cites docs/{m.group(1)} §{section}, which has no heading '## {section}.'")
    return out


DOC_PATH = re.compile(r"`([A-Za-z0-9_.\-/]+(?:/|\.(?:py|md|csv|ipynb|toml|json|cfg|txt|png)))(?::(\w+))?`")


def doc_path_offences(doc: pathlib.Path, root: pathlib.Path = REPO) -> list[str]:
    """Each backticked ``path`` (a name with a ``/`` or a file suffix) in ``doc`` must exist relative to the
    repository root, and each ``path.py:name`` must name a top-level function, class or assignment there."""
    out = []
    for i, line in enumerate(doc.read_text().splitlines(), 1):
        for m in DOC_PATH.finditer(line):
            rel, symbol = m.group(1), m.group(2)
            if "/" not in rel and symbol is None:
                continue  # a bare file name ("catalog.py") in running text
            path = root / rel
            if not path.exists():
                out.append(f"{doc.relative_to(root)}:{i}: {rel} does not exist")
            elif symbol and symbol not in _top_level_names(path):
                out.append(f"{doc.relative_to(root)}:{i}: {rel} defines no {symbol}")
    return out


def _top_level_names(path: pathlib.Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _report(offences: list[str], what: str) -> str:
    return f"{len(offences)} {what}:\n  " + "\n  ".join(offences)


# ---------------------------------------------------------------------------------------------- the repository
def test_no_import_cycles():
    offences = cycle_offences()
    assert not offences, _report(offences, "import cycles")


def test_imports_point_down_the_layers():
    offences = layer_offences()
    assert not offences, _report(offences, "imports against the layer order")


def test_no_private_names_across_modules():
    offences = private_offences()
    assert not offences, _report(offences, "private names used across modules (make them public)")


def test_no_python_file_over_600_lines():
    offences = size_offences()
    assert not offences, _report(offences, "Python files over 600 lines")


def test_theory_proofs_and_stats_never_import_torch():
    offences = torch_offences()
    assert not offences, _report(offences, "torch imports in the torch-free layers")
    code = ("import sys, collapse_theory.theory, collapse_theory.proofs, collapse_theory.stats\n"
            "import collapse_theory.claims.registry as r\n"
            "r.checks(['symbolic', 'numeric'])\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in %r)\n"
            "assert not bad, bad" % (sorted(TORCH),))
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300, cwd=REPO)


def test_every_module_has_a_layer():
    for name in package_modules(REPO):
        rank(name)


def test_architecture_doc_names_only_real_files():
    doc = REPO / "docs" / "architecture.md"
    assert doc.exists(), "docs/architecture.md is missing"
    offences = doc_path_offences(doc)
    assert not offences, _report(offences, "paths in docs/architecture.md that do not exist")


def test_no_file_cites_math_md_or_paper_md():
    offences = citation_offences()
    assert not offences, _report(offences, "citations of math.md/paper.md (cite docs/derivations/ or docs/provenance.md)")


def test_citations_name_real_pages_and_sections():
    offences = cited_section_offences()
    assert not offences, _report(offences, "citations of docs pages or sections that do not exist")


# ---------------------------------------------------------------------------------------------- the checker can fail
def _tree(root: pathlib.Path, files: dict[str, str]) -> pathlib.Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


SYN_LAYERS = {"pkg": 0, "pkg.low": 1, "pkg.mid": 2, "pkg.mid2": 2, "pkg.top": 3}


def test_checker_finds_a_cycle_hidden_in_a_function(tmp_path):
    root = _tree(tmp_path, {"pkg/__init__.py": "", "pkg/a.py": "from pkg import b\n",
                            "pkg/b.py": "def f():\n    from . import a\n    return a\n", "pkg/c.py": "import pkg.a\n"})
    offences = cycle_offences(root, "pkg")
    assert len(offences) == 1 and "pkg.a, pkg.b" in offences[0]
    assert "pkg/b.py:2: pkg.b -> pkg.a (in a function)" in offences[0] and "pkg.c" not in offences[0]
    (root / "pkg/b.py").write_text("def f():\n    return 1\n")
    assert cycle_offences(root, "pkg") == []


def test_checker_finds_an_upward_and_a_cross_package_import(tmp_path):
    root = _tree(tmp_path, {"pkg/__init__.py": "", "pkg/low/__init__.py": "", "pkg/low/x.py": "import numpy\n",
                            "pkg/low/y.py": "from .x import f\n",
                            "pkg/mid/__init__.py": "", "pkg/mid/m.py": "from ..low import x\n",
                            "pkg/mid2.py": "from pkg.mid import m\n",
                            "pkg/top.py": "from pkg.mid.m import g\n"})
    assert layer_offences(root, "pkg", SYN_LAYERS) == [
        "pkg/mid2.py:1: pkg.mid2 (pkg.mid2, rank 2) imports pkg.mid.m (pkg.mid, rank 2): sideways across packages"]
    (root / "pkg/low/y.py").write_text("def f():\n    from pkg.top import g\n")
    assert "pkg/low/y.py:2: pkg.low.y (pkg.low, rank 1) imports pkg.top (pkg.top, rank 3): up" in layer_offences(
        root, "pkg", SYN_LAYERS)
    with pytest.raises(KeyError, match="no layer"):
        rank("other.module", SYN_LAYERS)


def test_checker_finds_private_imports_and_attributes(tmp_path):
    root = _tree(tmp_path, {"pkg/__init__.py": "", "pkg/a.py": "_x = 1\n__all__ = []\ndef _f(): pass\n",
                            "pkg/sub/__init__.py": "from . import _impl\n", "pkg/sub/_impl.py": "",
                            "pkg/e.py": "from pkg.a import __all__\nfrom . import a\nprint(a.__name__, a._f is None)\n",
                            "pkg/b.py": "from pkg.a import _x\n",
                            "pkg/c.py": "import pkg.a as mod\nimport pkg.a\nv = mod._x\nw = pkg.a._f\n",
                            "pkg/d.py": "from pkg.sub import _impl\n"})
    got = private_offences(root, "pkg")
    assert got == ["pkg/b.py:1: pkg.b imports private pkg.a._x", "pkg/c.py:3: pkg.c uses private pkg.a._x",
                   "pkg/c.py:4: pkg.c uses private pkg.a._f", "pkg/d.py:1: pkg.d imports private module pkg.sub._impl",
                   "pkg/e.py:3: pkg.e uses private pkg.a._f"]


def test_checker_finds_a_601_line_file_anywhere(tmp_path):
    root = _tree(tmp_path, {"pkg/__init__.py": "", "pkg/ok.py": "x = 1\n" * 600, "tests/test_big.py": "x = 1\n" * 601,
                            ".venv/lib/huge.py": "x = 1\n" * 5000, "build/lib/huge.py": "x = 1\n" * 5000})
    assert size_offences(root) == ["tests/test_big.py:601: 601 lines (limit 600)"]


def test_checker_finds_torch_directly_and_through_an_import(tmp_path):
    root = _tree(tmp_path, {"pkg/__init__.py": "", "pkg/theory/__init__.py": "",
                            "pkg/theory/a.py": "def f():\n    import torch.nn\n",
                            "pkg/theory/b.py": "from pkg.util import h\n",
                            "pkg/util.py": "import numpy\nfrom torchdiffeq import odeint\n",
                            "pkg/lazy.py": "def f():\n    import torch\n",
                            "pkg/theory/c.py": "from pkg import lazy\n"})
    got = torch_offences(root, "pkg", ("pkg.theory",))
    assert got == ["pkg/theory/a.py:2: pkg.theory.a imports torch",
                   "pkg/theory/b.py:1: pkg.theory.b reaches torch through pkg.theory.b -> pkg.util (pkg/util.py:2)"]


def test_checker_finds_missing_doc_paths_and_symbols(tmp_path):
    root = _tree(tmp_path, {"pkg/a.py": "def f(): pass\nX = 1\n", "docs/x.md": "",
                            "docs/arch.md": "See `pkg/a.py:f`, `pkg/a.py:X`, `pkg/`, `docs/x.md` and `catalog.py`.\n"
                                            "Wrong: `pkg/b.py` and `pkg/a.py:g`.\n"})
    assert doc_path_offences(root / "docs/arch.md", root) == [
        "docs/arch.md:2: pkg/b.py does not exist", "docs/arch.md:2: pkg/a.py defines no g"]


def test_checker_finds_citations(tmp_path):
    root = _tree(tmp_path, {"pkg/a.py": '"""See docs/derivations/dae.md and ../shared/docs/math.md."""\n',
                            "docs/y.md": "From paper.md.\nfrom mypaper.mdx\n", "README.md": "ok\n"})
    assert citation_offences(root) == ["pkg/a.py:1: \"\"\"See docs/derivations/dae.md and ../shared/docs/math.md.\"\"\"",
                                       "docs/y.md:1: From paper.md."]


def test_checker_finds_citations_of_missing_pages_and_sections(tmp_path):
    root = _tree(tmp_path, {"docs/derivations/dae.md": "# DAE\n## 1. One\n## 2. Two\n", "README.md": "",
                            "pkg/a.py": "# docs/derivations/dae.md §2 and docs/derivations/dae.md section 1\n"
                                        "# docs/derivations/dae.md §3, docs/derivations/flow.md, docs/provenance.md §1\n"})
    assert cited_section_offences(root) == [
        "pkg/a.py:2: cites docs/derivations/dae.md §3, which has no heading '## 3.'",
        "pkg/a.py:2: cites docs/derivations/flow.md, which does not exist",
        "pkg/a.py:2: cites docs/provenance.md, which does not exist"]
