"""The results store: one SQLite file, one row per finished run, written in a transaction.

A run is identified by its sweep name and a canonical JSON key (everything that defines it, seed
included), so an interrupted sweep resumes by skipping keys already present.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from predsparse.errors import InputError

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    sweep   TEXT NOT NULL,
    key     TEXT NOT NULL,
    result  TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (sweep, key)
)
"""


def canonical(obj: Any) -> str:
    """A stable JSON text for ``obj`` (sorted keys, no spaces)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


class ResultStore:
    """Results of sweeps in a SQLite file (created on first use)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists() and self.path.is_dir():
            raise InputError(f"{self.path}: is a directory, expected a results database file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path)
            self.db.execute(SCHEMA)
            self.db.commit()
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: not a predsparse results database ({exc})") from None

    def has(self, sweep: str, key: dict[str, Any]) -> bool:
        cur = self.db.execute("SELECT 1 FROM runs WHERE sweep = ? AND key = ?", (sweep, canonical(key)))
        return cur.fetchone() is not None

    def put(self, sweep: str, key: dict[str, Any], result: dict[str, Any]) -> None:
        with self.db:  # one transaction: a row is either fully there or absent
            self.db.execute(
                "INSERT OR REPLACE INTO runs (sweep, key, result, created) VALUES (?, ?, ?, ?)",
                (sweep, canonical(key), canonical(result), time.time()),
            )

    def rows(self, sweep: str | None = None) -> Iterator[dict[str, Any]]:
        """Each stored run as ``{"sweep", "key", "result"}``."""
        q = "SELECT sweep, key, result FROM runs" + (" WHERE sweep = ?" if sweep else "") + " ORDER BY created"
        for s, k, r in self.db.execute(q, (sweep,) if sweep else ()):
            yield {"sweep": s, "key": json.loads(k), "result": json.loads(r)}

    def sweeps(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT sweep FROM runs ORDER BY sweep")]

    def close(self) -> None:
        self.db.close()
