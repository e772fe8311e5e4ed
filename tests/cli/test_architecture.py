"""The package layers of docs/architecture.md, checked on the source: every import of a project module
is allowed by the table there (arrows point one way; leaf modules import no package)."""

from __future__ import annotations

import ast
from pathlib import Path

import predsparse

SRC = Path(predsparse.__file__).parent
LEAVES = {"errors", "atomic", "serialize", "provenance", "limits", "threads", "claims", "parallel"}
# what each part may import besides the leaf modules (docs/architecture.md)
ALLOWED = {
    "patterns": set(),
    "data": set(),
    "morse": {"data"},
    "nn": {"patterns"},
    "hardware": {"patterns", "data"},
    "train": {"nn", "patterns", "data"},
    "search": {"experiments", "train", "nn", "patterns", "data"},
    "experiments": {"train", "nn", "patterns", "data", "morse"},
    "cli": {"train", "nn", "patterns", "data", "morse", "hardware", "search", "experiments"},
}
# leaf modules import only other leaves (and nothing that imports them back)
LEAF_ALLOWED = {
    "errors": set(),
    "atomic": set(),
    "provenance": set(),
    "claims": set(),
    "serialize": {"atomic", "errors"},
    "limits": {"errors"},
    "threads": {"errors"},
    "parallel": {"errors", "threads"},
}


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = (
                [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                if node.module == "predsparse"
                else [node.module]
            )
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for n in names:
            parts = n.split(".")
            if parts[0] == "predsparse" and len(parts) > 1 and parts[1] != "__version__":
                out.add(parts[1])
    return out


def test_every_import_follows_the_layers() -> None:
    wrong = []
    for f in sorted(SRC.rglob("*.py")):
        rel = f.relative_to(SRC)
        part = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        if part == "__init__":
            continue
        allowed = LEAF_ALLOWED[part] if part in LEAF_ALLOWED else ALLOWED[part] | LEAVES
        wrong += [f"{rel} imports predsparse.{m}" for m in _imports(f) - allowed - {part}]
    assert not wrong, "imports against docs/architecture.md:\n" + "\n".join(wrong)


def test_every_part_is_in_the_table() -> None:
    parts = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    parts |= {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"}
    assert parts == set(ALLOWED) | set(LEAF_ALLOWED)


def test_no_source_file_over_500_lines() -> None:
    long = [f"{f.relative_to(SRC)}: {n}" for f in SRC.rglob("*.py") if (n := len(f.read_text().splitlines())) > 500]
    assert not long, long
