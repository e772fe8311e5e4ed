"""Results record the code that made them: package versions and the source commit."""

import shutil
import subprocess
from pathlib import Path

import pytest

from predsparse.provenance import RESULT_SOURCES, describe, source_commit, versions

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")


@needs_git
def test_versions_name_the_source_commit_of_the_checkout():
    src = Path(__file__).resolve().parents[1] / "src" / "predsparse"
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=src, capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    commit = versions()["predsparse_commit"]
    assert commit == source_commit()
    assert head.stdout.strip().startswith(commit.removesuffix("-dirty"))
    top = src.parents[1]
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", "--", *RESULT_SOURCES],
        cwd=top,
        capture_output=True,
        text=True,
    )
    assert commit.endswith("-dirty") == bool(dirty.stdout.strip())


@needs_git
def test_only_a_change_to_code_or_configs_makes_a_commit_dirty(tmp_path):
    """A results database or the README changing in the checkout is not a change of the code."""

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    files = {"src/pkg/m.py": "x = 1\n", "configs/a.toml": "a = 1\n", "results/r.db": "rows\n", "README.md": "hi\n"}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    pkg = tmp_path / "src" / "pkg"
    clean = describe(pkg)
    assert clean and not clean.endswith("-dirty")
    (tmp_path / "results/r.db").write_text("more rows\n")
    (tmp_path / "README.md").write_text("changed\n")
    (tmp_path / "notes.txt").write_text("untracked\n")
    assert describe(pkg) == clean
    for name in ("configs/a.toml", "src/pkg/m.py"):
        (tmp_path / name).write_text("changed = 2\n")
        assert describe(pkg) == clean + "-dirty"
        git("checkout", "--", name)
    assert describe(tmp_path / "nowhere") is None  # no such directory: no commit, no error
