"""Atomic work claims with expiring leases, in any SQLAlchemy database (SQLite file or PostgreSQL server).

Many workers (processes on one machine or on many) share a list of items. A worker claims an item with one
atomic statement; the claim is a lease that the worker renews while it works. A claim whose lease has run
out, or whose owner is a process on this same host (and PID namespace) that no longer exists, can be taken
over by another worker, so a killed worker's item is redone. Claims never decide what counts as finished:
the caller's own table does (a stored result row, a complete Optuna trial).

Times come from the database's clock, so machines with skewed clocks agree on when a lease ran out.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

TABLE = "predsparse_claims"
DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    scope    TEXT NOT NULL,
    item     TEXT NOT NULL,
    owner    TEXT NOT NULL,
    expires  DOUBLE PRECISION NOT NULL,
    attempts INTEGER NOT NULL,
    ref      TEXT,
    PRIMARY KEY (scope, item)
)
"""


def db_url(url: str) -> str:
    """``url`` with a PostgreSQL driver that is installed: SQLAlchemy 2.1 reads a bare ``postgresql://`` as
    psycopg 3; with only psycopg2 (``psycopg2-binary``) installed, name that driver."""
    import importlib.util

    scheme, sep, rest = url.partition("://")
    if (
        sep
        and scheme in ("postgresql", "postgres")
        and importlib.util.find_spec("psycopg") is None
        and importlib.util.find_spec("psycopg2") is not None
    ):
        return f"postgresql+psycopg2://{rest}"
    return url


def display_url(url: str) -> str:
    """``url`` with its password masked (for printing and result files)."""
    if "://" not in url:
        return url
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


def _host_id() -> str:
    """Hostname plus the PID namespace: two processes with equal host ids can see each other's PIDs."""
    try:
        ns = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        ns = 0
    return f"{socket.gethostname()}/{ns}"


def new_owner() -> str:
    """A worker identity: ``host/pidns:pid:random`` (the random part keeps reused PIDs apart)."""
    return f"{_host_id()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str) -> bool:
    """True only when ``owner`` ran on this host and its process is gone (else the lease decides)."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != _host_id():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    try:  # a killed child its parent has not reaped yet is a zombie: dead too
        with open(f"/proc/{int(parts[1])}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return False


def now_sql(engine: sa.engine.Engine) -> str:
    """SQL for the database's current time in seconds since the epoch."""
    if engine.dialect.name == "postgresql":
        return "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)"
    return "((julianday('now') - 2440587.5) * 86400.0)"


def create_table(engine: sa.engine.Engine, ddl: str, name: str) -> None:
    """``CREATE TABLE IF NOT EXISTS`` that tolerates another worker creating the same table at the same
    moment (PostgreSQL then reports a duplicate type instead of doing nothing)."""
    try:
        with engine.begin() as c:
            c.execute(sa.text(ddl))
    except (sa.exc.IntegrityError, sa.exc.ProgrammingError):
        if not sa.inspect(engine).has_table(name):
            raise


@dataclass
class Claim:
    """A held claim (scope, item) by ``owner``."""

    scope: str
    item: str
    owner: str
    attempts: int


class Claims:
    """The claims table in ``engine``'s database (created on first use)."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.engine = engine
        self.now = now_sql(engine)
        create_table(engine, DDL, TABLE)

    def _exec(self, sql: str, **params: Any) -> sa.engine.CursorResult:
        with self.engine.begin() as c:
            return c.execute(sa.text(sql), params)

    def claim(self, scope: str, item: str, owner: str, lease: float) -> Claim | None:
        """Take ``item`` if nobody holds a live claim on it; None when another worker does."""
        r = self._exec(
            f"INSERT INTO {TABLE} (scope, item, owner, expires, attempts) VALUES (:s, :i, :o, {self.now} + :l, 1) "
            "ON CONFLICT (scope, item) DO NOTHING",
            s=scope,
            i=item,
            o=owner,
            l=lease,
        )
        if r.rowcount == 1:
            return Claim(scope, item, owner, 1)
        row = self._exec(
            f"SELECT owner, attempts, expires < {self.now} FROM {TABLE} WHERE scope = :s AND item = :i", s=scope, i=item
        ).fetchone()
        if row is None:  # released between the two statements: try once more
            return self.claim(scope, item, owner, lease)
        old, attempts, expired = row
        if not (expired or owner_is_dead(old)):
            return None
        # compare-and-swap on the old owner: of several workers taking over, exactly one wins
        r = self._exec(
            f"UPDATE {TABLE} SET owner = :o, expires = {self.now} + :l, attempts = attempts + 1, ref = NULL "
            "WHERE scope = :s AND item = :i AND owner = :old",
            o=owner,
            l=lease,
            s=scope,
            i=item,
            old=old,
        )
        return Claim(scope, item, owner, attempts + 1) if r.rowcount == 1 else None

    def register(self, scope: str, owner: str) -> int:
        """A number no other caller of ``scope`` ever got (0, 1, 2, ... in order of arrival; never reused)."""
        k = 0
        while True:
            r = self._exec(
                f"INSERT INTO {TABLE} (scope, item, owner, expires, attempts) VALUES (:s, :i, :o, 0, 1) "
                "ON CONFLICT (scope, item) DO NOTHING",
                s=scope,
                i=str(k),
                o=owner,
            )
            if r.rowcount == 1:
                return k
            k += 1

    def renew(self, claim: Claim, lease: float) -> bool:
        """Extend the lease; False when the claim was lost (taken over after it expired)."""
        r = self._exec(
            f"UPDATE {TABLE} SET expires = {self.now} + :l WHERE scope = :s AND item = :i AND owner = :o",
            l=lease,
            s=claim.scope,
            i=claim.item,
            o=claim.owner,
        )
        return r.rowcount == 1

    def set_ref(self, claim: Claim, ref: str | None) -> bool:
        """Attach what the claim is working on (e.g. an Optuna trial id)."""
        r = self._exec(
            f"UPDATE {TABLE} SET ref = :r WHERE scope = :s AND item = :i AND owner = :o",
            r=ref,
            s=claim.scope,
            i=claim.item,
            o=claim.owner,
        )
        return r.rowcount == 1

    def take_over_ref(self, scope: str, item: str, ref: str, owner: str, lease: float) -> Claim | None:
        """Take a claim whose work ``ref`` is known to be over (e.g. its trial failed); one caller wins."""
        row = self._exec(
            f"SELECT attempts FROM {TABLE} WHERE scope = :s AND item = :i AND ref = :r", s=scope, i=item, r=ref
        ).fetchone()
        if row is None:
            return None
        r = self._exec(
            f"UPDATE {TABLE} SET owner = :o, expires = {self.now} + :l, attempts = attempts + 1, ref = NULL "
            "WHERE scope = :s AND item = :i AND ref = :r",
            o=owner,
            l=lease,
            s=scope,
            i=item,
            r=ref,
        )
        return Claim(scope, item, owner, row[0] + 1) if r.rowcount == 1 else None

    def release(self, claim: Claim) -> None:
        """Give the item back at once (the worker stopped without finishing it)."""
        self._exec(
            f"DELETE FROM {TABLE} WHERE scope = :s AND item = :i AND owner = :o",
            s=claim.scope,
            i=claim.item,
            o=claim.owner,
        )

    def rows(self, scope: str) -> list[dict[str, Any]]:
        """Every claim of ``scope`` (held, expired or finished) with its attempts count."""
        res = self._exec(
            f"SELECT item, owner, attempts, ref, expires < {self.now} FROM {TABLE} WHERE scope = :s ORDER BY item",
            s=scope,
        )
        return [{"item": i, "owner": o, "attempts": a, "ref": r, "expired": bool(e)} for i, o, a, r, e in res]


class KeepAlive:
    """Renews a claim's lease every ``lease / 4`` seconds in a daemon thread while the work runs."""

    def __init__(self, claims: Claims, claim: Claim, lease: float) -> None:
        self.claims, self.claim, self.lease = claims, claim, lease
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="predsparse-lease")

    def _run(self) -> None:
        while not self._stop.wait(self.lease / 4):
            try:
                if not self.claims.renew(self.claim, self.lease):
                    self.lost = True
                    return
            except sa.exc.SQLAlchemyError:  # a passing database hiccup: the next renewal may succeed
                continue

    def __enter__(self) -> KeepAlive:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
