"""Shared fixtures: toy data, a small Fashion-MNIST subset, and a throwaway PostgreSQL server for the
many-workers tests.

The server is a fresh cluster in a temporary directory (initdb + pg_ctl on a free local port), started
once per test session and removed afterwards. Without the server binaries the tests that need it skip
with the reason; with ``PREDSPARSE_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) they fail instead.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest


def _pg_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    dirs = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0
    )
    for d in reversed(dirs):
        if (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists():
            return Path(d)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unavailable(reason: str) -> None:
    if os.environ.get("PREDSPARSE_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required here (PREDSPARSE_REQUIRE_POSTGRES=1) but {reason}")
    pytest.skip(f"no PostgreSQL server for these tests: {reason}")


@pytest.fixture(scope="session")
def postgres_server():
    """``postgresql://predsparse@127.0.0.1:PORT/postgres`` of a throwaway server (session-wide)."""
    bindir = _pg_bin()
    if bindir is None:
        _unavailable("initdb/pg_ctl not found (Debian: apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="predsparse-pg-"))
    user = None
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as an unprivileged user
        import pwd

        for name in ("postgres", "nobody"):
            try:
                pw = pwd.getpwnam(name)
            except KeyError:
                continue
            user = name
            os.chown(root, pw.pw_uid, pw.pw_gid)
            break
        if user is None:
            _unavailable("running as root and no unprivileged user (postgres, nobody) to run the server")
    port = _free_port()
    data, log = root / "data", root / "server.log"
    kw = {"user": user} if user else {}
    try:
        subprocess.run(
            [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "predsparse", "--no-sync"],
            check=True,
            capture_output=True,
            **kw,
        )
        subprocess.run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
                "start",
            ],
            check=True,
            capture_output=True,
            **kw,
        )
    except (subprocess.CalledProcessError, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        shutil.rmtree(root, ignore_errors=True)
        _unavailable(f"the server did not start ({exc}; {detail.decode(errors='replace').strip()[-300:]})")
    try:
        yield f"postgresql://predsparse@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True, **kw)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_db(postgres_server):
    """A new, empty database on the session's server, for one test."""
    import sqlalchemy as sa

    from predsparse.claims import db_url

    name = f"t_{uuid.uuid4().hex[:12]}"
    eng = sa.create_engine(db_url(postgres_server), isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sa.text(f"CREATE DATABASE {name}"))
    eng.dispose()
    return postgres_server.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path):
    """``(kind, search storage URL, sweep store)`` on SQLite and on the real PostgreSQL server."""
    if request.param == "sqlite":
        return "sqlite", f"sqlite:///{tmp_path}/search.db", str(tmp_path / "results.db")
    url = request.getfixturevalue("postgres_db")
    return "postgresql", url, url


@pytest.fixture
def toy_npz(tmp_path: Path):
    """A factory writing ``helpers.toy(**kw)`` (Gaussian clusters, train/val/test) to an npz; returns its path."""
    import numpy as np

    from helpers import toy

    def make(name: str = "toy.npz", **kw) -> Path:
        path = tmp_path / name
        np.savez(path, **toy(**kw))
        return path

    return make


FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="session")
def fashion_mnist_small():
    """Fashion-MNIST with 3,000 / 1,000 / 1,000 samples (seeded subsets), loaded once per session; skips
    without the Debian package dataset-fashion-mnist."""
    if not (FASHION_MNIST / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    from predsparse.data import load_dataset

    return load_dataset("fashion-mnist", limit_train=3000, limit_val=1000, limit_test=1000)
