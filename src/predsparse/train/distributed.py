"""Data-parallel training (torch.distributed DDP): one training over several processes or machines.

:func:`fit_distributed` trains exactly what :func:`predsparse.train.fit` trains, with each global batch
of ``config.batch_size`` rows split over the ranks:

- every rank draws the same per-epoch permutation from ``config.seed`` (the same generator as ``fit``),
  and rank ``r`` takes its contiguous share of each global batch (sizes differ by at most one);
- each rank's loss is scaled by ``share / global batch * world size``, so DDP's gradient average is the
  gradient of the whole batch's mean loss, also for batch sizes the world size does not divide and for a
  last batch with fewer rows than ranks (a rank without rows steps on a stand-in row with weight 0);
- the models, built on every rank by ``build_model`` under the config seed, are checked to be identical;
- layers that use batch statistics (BatchNorm, as in the ``SparseCNN`` front end) normalise each rank's
  share on its own, as usual under DDP (``SyncBatchNorm`` has no CPU implementation), and rank 0's
  running statistics are the ones evaluated and kept: such models train close to, not exactly as, ``fit``;
- rank 0 evaluates the validation split, keeps the best epoch, writes ``fit``'s checkpoint format
  (atomically; a rerun resumes, with ``fit`` or ``fit_distributed``) and tests the best epoch.

Two ways to start it:

- one machine: ``fit_distributed(build, ds, config, workers=4)`` spawns 4 local processes that meet on
  a free localhost port; each gets ``max(1, torch.get_num_threads() // workers)`` threads;
- several machines: run the same program under ``torchrun`` on each machine; when ``RANK``,
  ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` are set, the calling process joins that group
  (``workers`` must equal ``WORLD_SIZE``), nothing is spawned and every rank returns the result. With
  ``OMP_NUM_THREADS`` unset, a process gets ``torch.get_num_threads() // LOCAL_WORLD_SIZE`` threads.
  A process group the caller already initialised is joined the same way (and left open).

Spawned processes re-import the calling script, so a script needs ``if __name__ == "__main__":``.

Backend: ``gloo`` on CPU, ``nccl`` when ``config.device`` is CUDA (rank ``r`` uses ``cuda:LOCAL_RANK``).
"""

from __future__ import annotations

import gc
import hashlib
import inspect
import os
import pickle
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from tqdm.auto import tqdm

from predsparse.data.format import Dataset
from predsparse.errors import InputError
from predsparse.train.identity import run_identity
from predsparse.train.loop import (
    RunBook,
    TrainConfig,
    TrainResult,
    _tensors,
    check_model_fits_data,
    make_optimizer,
    set_epoch_lr,
    takes_rows_of,
    train_step,
)

ENV_KEYS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
"""The variables torchrun sets that make :func:`fit_distributed` join an existing group."""


def launched_by_torchrun() -> bool:
    """True when the environment names a process group (torchrun's ``RANK``, ``WORLD_SIZE``, ...)."""
    present = [k for k in ENV_KEYS if k in os.environ]
    if present and len(present) < len(ENV_KEYS):
        missing = ", ".join(k for k in ENV_KEYS if k not in os.environ)
        raise InputError(
            f"environment sets {', '.join(present)} but not {missing}: a torchrun group needs all of {', '.join(ENV_KEYS)}"
        )
    return bool(present)


def is_main_process() -> bool:
    """False only in a torchrun rank other than 0 (which should not print or write results)."""
    return os.environ.get("RANK", "0") == "0"


def shares(perm: torch.Tensor, batch_size: int, rank: int, world: int) -> Iterator[tuple[torch.Tensor, float, int]]:
    """Rank ``rank``'s part of each global batch of ``perm``: ``(rows, loss scale, global batch size)``.

    The scale ``share * world / global`` makes DDP's average over ranks the whole batch's mean-loss
    gradient; a rank left without rows (a last batch smaller than ``world``) gets the batch's first row
    with scale 0, so that it still takes part in the gradient all-reduce and contributes nothing.
    """
    for i in range(0, len(perm), batch_size):
        batch = perm[i : i + batch_size]
        nb = len(batch)
        base, extra = divmod(nb, world)
        size = base + (rank < extra)
        if size == 0:
            yield batch[:1], 0.0, nb
        else:
            start = rank * base + min(rank, extra)
            yield batch[start : start + size], size * world / nb, nb


def fit_distributed(
    build_model: Callable[[], nn.Module],
    dataset: Dataset,
    config: TrainConfig,
    *,
    workers: int = 2,
    progress: bool = False,
    checkpoint: str | os.PathLike | None = None,
    into: nn.Module | None = None,
) -> TrainResult:
    """Train ``build_model()`` on ``dataset`` with DDP over ``workers`` processes, like :func:`fit`.

    ``build_model`` is called on every rank (under ``torch.manual_seed(config.seed)``) and must give the
    same model each time; to reach spawned processes it must pickle (a module-level function or a
    ``functools.partial``, not a lambda). ``into``, a module of the same structure, receives the best
    epoch's weights. The result is rank 0's; under torchrun every rank returns it.
    """
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise InputError(f"workers {workers!r} must be a whole number >= 1")
    if not callable(build_model):
        raise InputError(f"build_model {build_model!r} must be a callable that returns the model")
    # join the caller's group (torchrun's environment, or one the caller set up) instead of spawning
    env = launched_by_torchrun() or dist.is_initialized()
    if env:
        world = dist.get_world_size() if dist.is_initialized() else _env_int("WORLD_SIZE")
        if workers != world:
            raise InputError(
                f"workers {workers} differs from WORLD_SIZE={world} set by torchrun: give workers = the world size"
            )
    if config.augment != "none":
        # every rank must draw the same permutations from one generator; per-rank augmentation draws would split it
        raise InputError(
            f"augmentation {config.augment!r} is not supported with {workers} data-parallel workers: "
            "train with workers = 1, or without augmentation"
        )
    if config.batch_size < workers:
        raise InputError(
            f"batch size {config.batch_size} is smaller than the {workers} workers: each worker needs a share of every full batch (batch size >= workers)"
        )
    cuda = torch.device(config.device).type == "cuda"
    if cuda and not torch.cuda.is_available():
        raise InputError(f"device {config.device}: CUDA is not available on this machine")
    if cuda and not env and workers > torch.cuda.device_count():
        raise InputError(
            f"{workers} workers on CUDA need {workers} GPUs, this machine has {torch.cuda.device_count()} (nccl allows one rank per GPU)"
        )
    if env:
        threads = torch.get_num_threads()
        if "OMP_NUM_THREADS" not in os.environ:
            threads = max(1, threads // _env_int("LOCAL_WORLD_SIZE", 1))
        rank = dist.get_rank() if dist.is_initialized() else _env_int("RANK")
        result, state = _run_rank(rank, workers, None, build_model, dataset, config, threads, progress, checkpoint)
    else:
        torch.manual_seed(config.seed)
        check_model_fits_data(build_model(), dataset)  # fail here, in one process, before spawning
        try:
            pickle.dumps(build_model)
        except Exception as exc:
            raise InputError(
                f"build_model cannot be pickled for the worker processes ({type(exc).__name__}): "
                "use a module-level function or functools.partial, not a lambda or local function"
            ) from None
        result, state = _spawn(build_model, dataset, config, workers, progress, checkpoint)
    if into is not None:
        into.load_state_dict(state)
    return result


def _env_int(key: str, default: int | None = None) -> int:
    text = os.environ.get(key)
    if text is None and default is not None:
        return default
    try:
        return int(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"environment variable {key}={text!r} must be a whole number (torchrun sets it)") from None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(build_model, dataset, config, workers, progress, checkpoint) -> tuple[TrainResult, dict]:  # noqa: ANN001
    """Run ranks 0..workers-1 as local processes; rank 0 leaves the result in a file for this process."""
    import torch.multiprocessing as mp

    threads = max(1, torch.get_num_threads() // workers)
    init = f"tcp://127.0.0.1:{_free_port()}"
    with tempfile.TemporaryDirectory(prefix="predsparse-ddp-") as tmp:
        try:
            mp.spawn(
                _spawned_rank,
                args=(workers, init, build_model, dataset, config, threads, progress, checkpoint, tmp),
                nprocs=workers,
                join=True,
                start_method="spawn",
            )
        except Exception as exc:
            errors = sorted(Path(tmp).glob("error-*.txt"))
            if errors:
                raise InputError(errors[0].read_text()) from None
            raise RuntimeError(f"distributed training failed: {exc}") from exc
        out = torch.load(Path(tmp) / "result.pt", weights_only=True)
    return TrainResult(**out["result"]), out["state"]


def _spawned_rank(rank: int, world, init, build_model, dataset, config, threads, progress, checkpoint, tmp) -> None:  # noqa: ANN001
    try:
        result, state = _run_rank(rank, world, init, build_model, dataset, config, threads, progress, checkpoint)
    except InputError as exc:
        # the parent turns this into one InputError line (mp.spawn would only give a traceback)
        (Path(tmp) / f"error-{rank:05d}.txt").write_text(str(exc))
        raise
    if rank == 0:
        torch.save({"result": result.to_dict(), "state": state}, Path(tmp) / "result.pt")


def _run_rank(
    rank: int,
    world: int,
    init: str | None,
    build_model: Callable[[], nn.Module],
    dataset: Dataset,
    config: TrainConfig,
    threads: int,
    progress: bool,
    checkpoint: str | Path | None,
) -> tuple[TrainResult, dict]:
    threads_before = torch.get_num_threads()
    torch.set_num_threads(threads)
    cuda = torch.device(config.device).type == "cuda"
    if cuda:
        local = _env_int("LOCAL_RANK", rank) if init is None else rank
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    else:
        device = torch.device(config.device)
    own_group = not dist.is_initialized()
    if own_group:
        dist.init_process_group("nccl" if cuda else "gloo", init_method=init or "env://", rank=rank, world_size=world)
    try:
        return _train(rank, world, device, build_model, dataset, config, progress, checkpoint)
    finally:
        if own_group:
            dist.destroy_process_group()
            # free now what reference cycles (DDP's reducer, collective work) still hold of gloo's objects:
            # freed later, during interpreter shutdown, they abort the process ("terminate called without
            # an active exception"; seen in about 1 of 30 spawned processes before this)
            gc.collect()
        torch.set_num_threads(threads_before)


def _fingerprint(model: nn.Module) -> str:
    """A hash of every parameter and buffer (the pattern's index buffers included)."""
    h = hashlib.sha256()
    for name, t in [*model.named_parameters(), *model.named_buffers()]:
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _agree(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank."""
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def _train(
    rank: int,
    world: int,
    device: torch.device,
    build_model: Callable[[], nn.Module],
    dataset: Dataset,
    config: TrainConfig,
    progress: bool,
    checkpoint: str | Path | None,
) -> tuple[TrainResult, dict]:
    from torch.nn.parallel import DistributedDataParallel

    torch.manual_seed(config.seed)
    model = build_model()
    check_model_fits_data(model, dataset)
    prints = [None] * world
    dist.all_gather_object(prints, _fingerprint(model))
    if len(set(prints)) > 1:
        raise InputError(
            "build_model gave different models on different ranks: it must draw patterns and weights "
            "from fixed seeds (e.g. predsparse.train.build_model(..., seed=S))"
        )
    model.to(device)
    xtr, ytr = _tensors(dataset, "tr", device)
    if rank == 0:  # only rank 0 evaluates
        xva, yva = _tensors(dataset, "va", device)
        xte, yte = _tensors(dataset, "te", device)
    opt = make_optimizer(model, config)
    gen = torch.Generator().manual_seed(config.seed)
    book = RunBook(identity=run_identity(model, dataset, config))  # checkpoints name the run they belong to
    ck = Path(checkpoint) if checkpoint else None
    if ck is not None:
        # rank 0 reads the checkpoint (it may exist only on rank 0's machine) and every rank resumes from it
        try:
            state = ("ok", RunBook.read_checkpoint(ck, config, book.identity)) if rank == 0 else None
        except InputError as exc:
            state = ("error", str(exc))
        status, state = _agree(state)
        if status == "error":
            raise InputError(state)
        if state is not None:
            book.resume(state, model, opt, gen)
    if rank == 0:
        book.begin(model, xva, yva, config)  # the start that divergence is judged against
    # different dropout masks on different ranks, as one process would draw for the different rows
    torch.manual_seed(config.seed + rank)
    # no per-step buffer broadcast: a SparseMLP's buffers are its pattern's index arrays (|W| numbers each,
    # equal everywhere, checked above), and BatchNorm running statistics matter only on rank 0, which
    # evaluates, checkpoints and returns them
    no_sync = (
        "forward_sync_buffers"
        if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
        else "broadcast_buffers"
    )
    ddp = DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None, **{no_sync: False}
    )
    takes_rows = takes_rows_of(model)
    totals = torch.zeros(2, dtype=torch.float64, device=device)
    t0 = time.perf_counter()
    bar = tqdm(
        range(book.next_epoch, config.epochs + 1),
        desc=f"train x{world}",
        disable=not (progress and rank == 0),
        leave=False,
        dynamic_ncols=True,
    )
    for epoch in bar:
        ddp.train()
        set_epoch_lr(opt, config, epoch)
        te = time.perf_counter()
        perm = torch.randperm(len(xtr), generator=gen).to(device)
        tot_loss, tot_correct = 0.0, 0
        for idx, scale, nb in shares(perm, config.batch_size, rank, world):
            loss_value, correct = train_step(ddp, xtr, ytr, idx, opt, config, epoch, takes_rows=takes_rows, scale=scale)
            if scale:
                # loss_value is scale * (share's mean loss); the share's summed loss is loss_value * nb / world
                tot_loss += loss_value * nb / world
                tot_correct += correct
        totals[0], totals[1] = tot_loss, tot_correct
        dist.all_reduce(totals)
        epoch_seconds = time.perf_counter() - te
        if rank == 0:
            rec = book.end_epoch(
                epoch, float(totals[0]), float(totals[1]), len(xtr), epoch_seconds, model, xva, yva, config
            )
            bar.set_postfix(loss=f"{rec['train_loss']:.3f}", val=f"{rec['val_acc']:.4f}")
            if ck is not None:
                book.save(ck, model, opt, gen, config, time.perf_counter() - t0)
    bar.close()
    if rank == 0:
        result = book.finish(model, xte, yte, config, time.perf_counter() - t0)
        out = (result.to_dict(), {k: v.detach().cpu() for k, v in model.state_dict().items()})
    else:
        out = None
    result_dict, state = _agree(out)
    return TrainResult(**result_dict), state
