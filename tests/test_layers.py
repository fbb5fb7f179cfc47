"""The package's layers (``docs/architecture.md``): a module never imports one of a
higher layer, not even inside a function, so there is no import cycle to hide."""

from __future__ import annotations

import ast
from pathlib import Path

import engram

SRC = Path(engram.__file__).parent

#: Layer of each top-level module or package of ``engram``; a module may import its own
#: layer and the ones below it.
LAYERS = {
    "_xla": 0,  # XLA flags set before anything computes: imports nothing of engram
    "core": 0,
    "render": 0,
    "envs": 1,
    "models": 2,
    "presets": 2,
    "config": 3,
    "policy": 4,
    "ppo": 5,
    "evaluation": 6,
    "run": 7,
    "runner": 8,
    "eval": 8,
    "record": 8,
    "play": 8,
    "provenance": 7,  # what a run was made with: sweep writes it, report reads it
    "sweep": 8,
    "report": 8,
    "cli": 9,
    "gym": 0,  # the Gymnasium adapter needs only the core (engram/__init__ registers it)
}


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "engram" and len(parts) > 1 and parts[1] in LAYERS:
                yield parts[1]


def test_every_module_has_a_layer():
    tops = {p.stem if p.is_file() else p.name for p in SRC.iterdir()}
    tops = {t for t in tops if not t.startswith("__")}
    assert tops <= set(LAYERS), sorted(tops - set(LAYERS))


def test_no_module_imports_a_higher_layer():
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts[0] == "__init__.py":
            continue  # the package root re-exports the public names
        top = rel.parts[0].removesuffix(".py")
        for target in _imports(path):
            if LAYERS[target] > LAYERS[top]:
                wrong.append(f"{rel} imports engram.{target}")
    assert not wrong, "\n".join(wrong)
