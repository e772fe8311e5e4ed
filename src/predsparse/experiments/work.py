"""One worker's loop over a shared list of items: claim one, run it, store its result, until all are stored.

Sweeps (:func:`predsparse.experiments.sweep.work_sweep`) and the scatter study both hand their runs to
:func:`work_items`, so any number of workers (processes here, machines elsewhere) can share one
:class:`~predsparse.experiments.store.ResultStore` without doing the same item twice: an item is claimed
atomically before it runs; a claim whose worker died is taken over when its lease ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from predsparse.experiments.store import ResultStore, canonical

LEASE_SECONDS = 60.0  # an item claimed by a worker that stops renewing is free again after this


def work_items(
    store: ResultStore,
    scope: str,
    keys: Sequence[dict[str, Any]],
    run: Callable[[int], dict[str, Any]],
    *,
    labels: Sequence[str] | None = None,
    lease: float = LEASE_SECONDS,
    owner: str | None = None,
    emit: Callable[[str, str], None] | None = None,
    wait: float = 0.5,
) -> int:
    """Claim, ``run(i)`` and ``store.put(scope, keys[i], result)`` items until every key is stored; returns
    how many this worker ran. While the remaining items are held by live workers, this one waits for them
    (or for their leases to run out). ``emit("start"|"done", labels[i])`` reports progress."""
    from predsparse.claims import KeepAlive, new_owner

    canon = [canonical(k) for k in keys]
    owner = owner or new_owner()
    emit = emit or (lambda kind, label: None)
    labels = labels if labels is not None else [str(i) for i in range(len(keys))]
    ran = 0
    while True:
        done = store.done_keys(scope)
        pending = [i for i, k in enumerate(canon) if k not in done]
        if not pending:
            return ran
        progressed = False
        for i in pending:
            claim = store.claim(scope, keys[i], owner, lease)
            if claim is None:
                continue
            if store.has(scope, keys[i]):  # finished by its previous owner after we listed it
                continue
            emit("start", labels[i])
            try:
                with KeepAlive(store.claims, claim, lease):
                    result = run(i)
            except BaseException:
                store.claims.release(claim)  # stopped without a result: the item is free for anyone at once
                raise
            store.put(scope, keys[i], result)
            ran += 1
            progressed = True
            emit("done", labels[i])
        if not progressed:
            time.sleep(wait)
