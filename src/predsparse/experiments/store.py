"""The results store: one row per finished run, in a SQLite file or a PostgreSQL database.

A run is identified by its sweep name and a canonical JSON key (everything that defines it, seed
included), so an interrupted sweep resumes by skipping keys already present. Many workers (processes or
machines) share one store: each claims a run before training it (:mod:`predsparse.claims`, a lease that
expires so a killed worker's run is redone), and a row is inserted at most once per key.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from predsparse.claims import Claim, Claims, create_table, db_url
from predsparse.errors import InputError

# DOUBLE PRECISION: PostgreSQL's REAL is 4 bytes (a timestamp would lose minutes); SQLite reads it as REAL
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    sweep   TEXT NOT NULL,
    key     TEXT NOT NULL,
    result  TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (sweep, key)
)
"""
COLUMNS = {"sweep", "key", "result", "created"}


def _current_names(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row whose varied keys (records written before the rename) say network.out_degrees, read as
    network.d_out. The row's key keeps the spelling runs are keyed by (see ``sweep._key``)."""
    varied = row["result"].get("varied") if isinstance(row["result"], dict) else None
    if isinstance(varied, dict) and "network.out_degrees" in varied:
        row["result"]["varied"] = {("network.d_out" if k == "network.out_degrees" else k): v for k, v in varied.items()}
    return row


def canonical(obj: Any) -> str:
    """A stable JSON text for ``obj`` (sorted keys, no spaces)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def is_url(target: str) -> bool:
    """True for a database URL (``postgresql://...``, ``sqlite:///...``), False for a file path."""
    return "://" in str(target)


def engine_for(target: str | Path, *, readonly: bool = False) -> sa.engine.Engine:
    """A SQLAlchemy engine for a SQLite path or a ``sqlite:///`` / ``postgresql://`` URL (one-line errors)."""
    target = str(target)
    if is_url(target):
        try:
            url = sa.engine.make_url(db_url(target))
        except sa.exc.ArgumentError:
            raise InputError(
                f"store {target!r}: not a database URL (use a file path, sqlite:///FILE or postgresql://...)"
            ) from None
        backend = url.get_backend_name()
        if backend == "sqlite":
            return engine_for(url.database or "", readonly=readonly)
        if backend != "postgresql":
            raise InputError(f"store {target!r}: unsupported database {backend!r} (use a SQLite file or postgresql://)")
        try:
            eng = sa.create_engine(
                url,
                isolation_level="AUTOCOMMIT",
                pool_pre_ping=True,
                execution_options={"postgresql_readonly": True} if readonly else {},
            )
            with eng.connect():
                pass
        except ImportError as exc:
            raise InputError(f"store {target!r}: database driver not installed ({exc})") from None
        except sa.exc.SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise InputError(f"store {url.render_as_string(hide_password=True)}: cannot connect ({reason})") from None
        return eng
    path = Path(target)
    if not target or path.is_dir():
        raise InputError(f"{path}: is a directory, expected a results database file")
    if readonly:
        if not path.is_file():
            raise InputError(f"{path}: no such results file")
        # mode=ro: never creates or changes the file, even when it is not a results store
        return sa.create_engine(
            f"sqlite:///file:{path.resolve()}?mode=ro&uri=true",
            isolation_level="AUTOCOMMIT",
            connect_args={"timeout": 60},
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{path}: cannot create its directory ({exc.strerror})") from None
    # timeout: wait for another worker's write instead of failing with "database is locked"
    return sa.create_engine(f"sqlite:///{path}", isolation_level="AUTOCOMMIT", connect_args={"timeout": 60})


class ResultStore:
    """Results of sweeps in a SQLite file (created on first use) or a PostgreSQL database URL.

    ``readonly=True`` (reports) opens an existing store without changing it and refuses anything that is not
    a results store.
    """

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.url = str(path)
        self.path = None if is_url(self.url) else Path(path)  # kept for callers that print the file
        self.readonly = readonly
        self.engine = engine_for(path, readonly=readonly)
        try:
            if readonly:
                self._check_is_store()
            else:
                create_table(self.engine, SCHEMA, "runs")
                self.claims = Claims(self.engine)
        except sa.exc.DatabaseError as exc:
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise InputError(f"{self.url}: not a predsparse results database ({reason})") from None

    def _check_is_store(self) -> None:
        cols = (
            {c["name"] for c in sa.inspect(self.engine).get_columns("runs")}
            if sa.inspect(self.engine).has_table("runs")
            else set()
        )
        if not COLUMNS <= cols:
            raise InputError(
                f"{self.url}: not a predsparse results store (no 'runs' table with columns "
                f"{sorted(COLUMNS)}); give the file that `predsparse sweep --store` wrote"
            )

    def _q(self, sql: str, **params: Any) -> sa.engine.CursorResult:
        with self.engine.begin() as c:
            return c.execute(sa.text(sql), params)

    def has(self, sweep: str, key: dict[str, Any]) -> bool:
        return (
            self._q("SELECT 1 FROM runs WHERE sweep = :s AND key = :k", s=sweep, k=canonical(key)).first() is not None
        )

    def done_keys(self, sweep: str) -> set[str]:
        """Canonical keys of the runs of ``sweep`` already stored."""
        return {k for (k,) in self._q("SELECT key FROM runs WHERE sweep = :s", s=sweep)}

    def put(self, sweep: str, key: dict[str, Any], result: dict[str, Any]) -> bool:
        """Store a run's row (one statement: fully there or absent); False when the key was already stored."""
        if self.readonly:
            raise InputError(f"{self.url}: opened read-only")
        r = self._q(
            "INSERT INTO runs (sweep, key, result, created) VALUES (:s, :k, :r, :t) "
            "ON CONFLICT (sweep, key) DO NOTHING",
            s=sweep,
            k=canonical(key),
            r=canonical(result),
            t=time.time(),
        )
        return r.rowcount == 1

    def claim(self, sweep: str, key: dict[str, Any], owner: str, lease: float) -> Claim | None:
        """Claim a run for ``owner`` (None while another worker holds a live lease on it)."""
        return self.claims.claim(f"sweep:{sweep}", canonical(key), owner, lease)

    def claim_rows(self, sweep: str) -> list[dict[str, Any]]:
        """The claims of ``sweep``'s runs: key, last owner, attempts (2 or more: the run was redone)."""
        return [dict(r, key=json.loads(r.pop("item"))) for r in self.claims.rows(f"sweep:{sweep}")]

    def rows(self, sweep: str | None = None) -> Iterator[dict[str, Any]]:
        """Each stored run as ``{"sweep", "key", "result"}``."""
        q = "SELECT sweep, key, result FROM runs" + (" WHERE sweep = :s" if sweep else "") + " ORDER BY created, key"
        for s, k, r in self._q(q, **({"s": sweep} if sweep else {})).fetchall():
            yield _current_names({"sweep": s, "key": json.loads(k), "result": json.loads(r)})

    def sweeps(self) -> list[str]:
        return [r[0] for r in self._q("SELECT DISTINCT sweep FROM runs ORDER BY sweep")]

    def close(self) -> None:
        self.engine.dispose()
