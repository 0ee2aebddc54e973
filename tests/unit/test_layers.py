"""The house keeps its shape: edge/ imports run one way, down the layers, never in a circle, and never
reach torch, ultralytics or the workstation's ``conversion`` package (the device has none of them).

Layers, top to bottom: ``cli`` → ``http`` → ``service`` | ``cameras`` (siblings: neither imports the
other) → ``analytics`` → ``inference`` → ``config`` → ``errors`` (and the package's own ``__init__``). Every import
counts, including those inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

EDGE = Path(__file__).resolve().parents[2] / "edge"
RANK = {"cli": 6, "__main__": 6, "http": 5, "service": 4, "cameras": 4, "analytics": 3, "inference": 2,
        "config": 1, "errors": 0, "": 0}
FORBIDDEN = ("torch", "torchvision", "ultralytics", "conversion", "nncf")


def modules(root: Path) -> dict[str, Path]:
    out = {}
    for path in root.rglob("*.py"):
        name = ".".join((root.name, *path.relative_to(root).with_suffix("").parts))
        out[name.removesuffix(".__init__")] = path
    return out


def imports(name: str, path: Path) -> set[str]:
    """Every module name ``path`` imports (absolute, relative resolved), in functions too."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def violations(root: Path) -> list[str]:
    """Upward or sideways imports between layers, forbidden packages, and import cycles."""
    mods = modules(root)
    graph: dict[str, set[str]] = {}
    out = []
    for name, path in sorted(mods.items()):
        found = imports(name, path)
        for target in sorted(found):
            if target.split(".")[0] in FORBIDDEN:
                out.append(f"{name} imports {target}: the device has no {target.split('.')[0]}")
        graph[name] = {t for t in found if t in mods and t != name and not name.startswith(t + ".")}
        for target in sorted(graph[name]):
            mine, theirs = layer(name), layer(target)
            if mine != theirs and theirs and RANK.get(theirs, 99) >= RANK.get(mine, 99):
                out.append(f"{name} imports {target}: {mine or 'edge'} may not import {theirs}")
    out += [f"import cycle: {' -> '.join(c)}" for c in cycles(graph)]
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component) + [sorted(component)[0]])

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_edge_keeps_its_layers() -> None:
    assert violations(EDGE) == []


def test_edge_root_holds_only_the_entry_points() -> None:
    loose = sorted(p.name for p in EDGE.glob("*.py"))
    assert loose == ["__init__.py", "cli.py", "errors.py"]


@pytest.mark.parametrize("files, expected", [
    ({"inference/engine.py": "from edge.http.app import x\n"}, "inference may not import http"),
    ({"service/state.py": "import edge.cameras.loop\n"}, "service may not import cameras"),
    ({"config/settings.py": "def f():\n    from edge.inference import engine\n"}, "config may not import inference"),
    ({"http/a.py": "from edge.http import b\n", "http/b.py": "from edge.http import a\n"}, "import cycle"),
    ({"inference/x.py": "import torch\n"}, "the device has no torch"),
    ({"cameras/y.py": "from conversion.pipeline import run\n"}, "the device has no conversion"),
    ({"analytics/t.py": "from edge.cameras.loop import CameraLoop\n"}, "analytics may not import cameras"),
    ({"http/ok.py": "from edge.service.state import Serving\nfrom edge.errors import EdgeError\n"}, None),
])
def test_the_check_catches_what_it_should(tmp_path: Path, files: dict[str, str], expected: str | None) -> None:
    root = tmp_path / "edge"
    for folder in ("http", "service", "cameras", "analytics", "inference", "config"):
        (root / folder).mkdir(parents=True)
        (root / folder / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "errors.py").write_text("class EdgeError(Exception): ...\n")
    (root / "service" / "state.py").write_text("")
    (root / "cameras" / "loop.py").write_text("")
    (root / "http" / "app.py").write_text("x = 1\n")
    (root / "inference" / "engine.py").write_text("")
    for rel, text in files.items():
        (root / rel).write_text(text)
    found = violations(root)
    if expected is None:
        assert found == []
    else:
        assert any(expected in v for v in found), found
