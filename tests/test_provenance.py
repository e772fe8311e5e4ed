"""Results record the code that made them: package versions and the source commit."""

import shutil
import subprocess
from pathlib import Path

import pytest

from predsparse.provenance import source_commit, versions


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_versions_name_the_source_commit_of_the_checkout():
    src = Path(__file__).resolve().parents[1] / "src" / "predsparse"
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=src, capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    commit = versions()["predsparse_commit"]
    assert commit == source_commit()
    assert head.stdout.strip().startswith(commit.removesuffix("-dirty"))
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=src, capture_output=True, text=True
    )
    assert commit.endswith("-dirty") == bool(dirty.stdout.strip())
