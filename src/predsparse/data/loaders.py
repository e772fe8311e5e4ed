"""Reading datasets: npz files, MNIST-style IDX files, and named datasets (Fashion-MNIST, Morse)."""

from __future__ import annotations

import gzip
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from predsparse.data.format import KEYS, Dataset
from predsparse.errors import InputError
from predsparse.limits import check_memory
from predsparse.serialize import loads_object

FASHION_MNIST_DIRS = ("/usr/share/datasets/fashion-mnist",)
MAX_IDX_NDIM = 8  # MNIST-style data has 1 (labels) to 4 dimensions; more is a damaged header
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _npz_member_bytes(z: Any, key: str) -> int:
    """Uncompressed size of ``key`` inside an open npz (0 when the archive does not say)."""
    try:
        return int(z.zip.getinfo(key + ".npy").file_size)
    except (AttributeError, KeyError):
        return 0


def load_npz(path: str | os.PathLike) -> Dataset:
    """A dataset from an ``.npz`` with keys ``xtr, ytr, xva, yva, xte, yte`` (no pickled objects, nothing executed).

    Every way the file can be damaged (not a zip, truncated, bad deflate data, object arrays, bad shapes) is one
    :class:`InputError`; the uncompressed size is checked against :func:`predsparse.limits.check_memory` first.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such dataset file")
    try:
        with np.load(path, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise InputError(f"{path}: holds a single array, not a dataset npz with keys {list(KEYS)}")
            missing = [k for k in KEYS if k not in z.files]
            if missing:
                raise InputError(f"{path}: missing keys {missing}; a dataset npz needs {list(KEYS)}")
            check_memory(sum(_npz_member_bytes(z, k) for k in KEYS), f"{path} (uncompressed)")
            arrays = {k: z[k] for k in KEYS}
            meta: dict[str, Any] = {"name": path.stem, "source": str(path)}
            if "meta" in z.files:
                m = z["meta"]
                text = bytes(m).decode("utf-8", "replace") if m.dtype == np.uint8 else str(m)
                try:
                    meta.update(loads_object(text, f"{path} meta"))
                except InputError:
                    pass  # free-form metadata is informative only; a broken one must not block the data
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: not a readable npz file ({_why(exc)})") from None
    for k in ("xva", "xte"):
        if arrays[k].ndim >= 1 and arrays[k].shape[0] == 0:
            raise InputError(
                f"{path}: {k} is empty: a dataset needs validation and test samples "
                "(the best epoch is chosen on validation and reported on test)"
            )
    return Dataset.from_mapping(arrays, meta=meta)


def _why(exc: BaseException) -> str:
    """``Type: first line`` of an exception, for one-line messages."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def _read_exact(f: Any, n: int, path: Path, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise InputError(f"{path}: truncated IDX file ({what}: {len(data)} of {n} bytes)")
    return data


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """One IDX array (MNIST format), gzipped or not, with checks on magic, type, sizes and length.

    The header is read first and the body's size checked against the memory limit before it is read, so a
    damaged header never makes a huge allocation; every kind of damage is one :class:`InputError`.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such IDX file")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            head = _read_exact(f, 4, path, "magic number")
            if head[0] != 0 or head[1] != 0 or head[2] not in _IDX_DTYPES:
                raise InputError(f"{path}: bad IDX magic number {head.hex()} (expected 00 00 <type 08-0e> <ndim>)")
            ndim = head[3]
            if not 1 <= ndim <= MAX_IDX_NDIM:
                raise InputError(f"{path}: IDX header says {ndim} dimensions: must be 1..{MAX_IDX_NDIM}")
            dims = _read_exact(f, 4 * ndim, path, "dimensions")
            shape = tuple(int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
            dtype = np.dtype(_IDX_DTYPES[head[2]])
            need = math.prod(shape) * dtype.itemsize  # Python ints: no overflow whatever the header says
            # deflate cannot expand more than ~1032:1, so a larger body is a damaged header, not a big file
            most = path.stat().st_size * (1100 if opener is gzip.open else 1)
            if need > most:
                raise InputError(
                    f"{path}: IDX header says shape {shape} ({need} bytes) but the file can hold at "
                    f"most {most} (damaged header or truncated file)"
                )
            check_memory(need, f"{path} (IDX shape {shape})")
            body = f.read(need)
            extra = f.read(1)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: unreadable IDX file ({_why(exc)})") from None
    if len(body) != need or extra:
        got = f"{len(body)}" if not extra else f"more than {need}"
        raise InputError(f"{path}: IDX body has {got} bytes but shape {shape} needs {need} (truncated or damaged)")
    return np.frombuffer(body, dtype=dtype).reshape(shape)


def _find_idx(directory: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz", stem.replace("-idx", ".idx")):
        if (directory / name).is_file():
            return directory / name
    raise InputError(f"{directory}: no IDX file {stem}[.gz]")


def load_idx_dir(
    directory: str | os.PathLike, *, val_size: int = 10000, seed: int = 0, name: str | None = None
) -> Dataset:
    """An MNIST-style directory (train/t10k images and labels). The last ``val_size`` shuffled training
    samples become the validation split (seeded), the t10k files the test split."""
    d = Path(directory)
    if not d.is_dir():
        raise InputError(f"{d}: no such directory")
    xtr = read_idx(_find_idx(d, "train-images-idx3-ubyte"))
    ytr = read_idx(_find_idx(d, "train-labels-idx1-ubyte"))
    xte = read_idx(_find_idx(d, "t10k-images-idx3-ubyte"))
    yte = read_idx(_find_idx(d, "t10k-labels-idx1-ubyte"))
    for split, x, y in (("train", xtr, ytr), ("t10k", xte, yte)):
        if y.ndim != 1:
            raise InputError(f"{d}: {split} labels have shape {y.shape}: an IDX label file must be 1-D")
        if x.shape[0] != y.shape[0]:
            raise InputError(f"{d}: {split} has {x.shape[0]} images but {y.shape[0]} labels: the files must match")
    if not 0 <= val_size < len(xtr):
        raise InputError(f"val_size {val_size} must be in 0..{len(xtr) - 1}")
    perm = np.random.default_rng(seed).permutation(len(xtr))
    tr, va = perm[: len(xtr) - val_size], perm[len(xtr) - val_size :]
    return Dataset(
        xtr[tr],
        ytr[tr],
        xtr[va],
        ytr[va],
        xte,
        yte,
        meta={"name": name or d.name, "source": str(d), "val_size": val_size, "split_seed": seed},
    )


def fashion_mnist_dir() -> Path:
    """Where Fashion-MNIST's IDX files are (Debian package ``dataset-fashion-mnist``)."""
    env = os.environ.get("PREDSPARSE_FASHION_MNIST")
    for cand in ([env] if env else []) + list(FASHION_MNIST_DIRS):
        if cand and Path(cand).is_dir():
            return Path(cand)
    raise InputError(
        "Fashion-MNIST not found in /usr/share/datasets/fashion-mnist: install it with "
        "'apt-get install dataset-fashion-mnist' or set PREDSPARSE_FASHION_MNIST to its directory"
    )


def dataset_generators() -> dict[str, Any]:
    """Synthetic dataset generators registered under the ``predsparse.datasets`` entry-point group
    (``morse`` ships with predsparse; other packages can add theirs). Values load lazily."""
    from importlib.metadata import entry_points

    return {ep.name: ep.load for ep in entry_points(group="predsparse.datasets")}


def load_dataset(name_or_path: str, *, seed: int = 0, **options: Any) -> Dataset:
    """A dataset by name or path, then the transforms in ``options`` (see :func:`apply_transforms`).

    Names: ``fashion-mnist``, ``mnist`` (needs ``PREDSPARSE_MNIST`` pointing to IDX files), a registered
    generator with an optional preset (``morse``, ``morse:difficult``; its parameters go in
    ``options[name]``, e.g. ``morse={"train_per_class": 400}``). Paths: an ``.npz`` file or an IDX directory.
    """
    from predsparse.data.transforms import apply_transforms

    key = name_or_path.lower()
    if key in ("fashion-mnist", "fashion_mnist", "fmnist"):
        ds = load_idx_dir(fashion_mnist_dir(), seed=seed, name="fashion-mnist")
    elif key == "mnist":
        env = os.environ.get("PREDSPARSE_MNIST")
        if not env:
            raise InputError("MNIST is not shipped here: set PREDSPARSE_MNIST to a directory with its IDX files")
        ds = load_idx_dir(env, seed=seed, name="mnist")
    elif key.split(":", 1)[0] in dataset_generators():
        name, _, preset = key.partition(":")
        gen_opts = options.pop(name, {}) or {}
        generate = dataset_generators()[name]()
        ds = generate(preset or "baseline", seed=seed, **gen_opts)
    else:
        path = Path(name_or_path)
        if path.is_dir():
            ds = load_idx_dir(path, seed=seed)
        elif path.suffix == ".npz" or path.is_file():
            ds = load_npz(path)
        else:
            raise InputError(
                f"dataset {name_or_path!r} is neither a known name (fashion-mnist, mnist, "
                f"{', '.join(n + '[:preset]' for n in dataset_generators())}) nor an existing file"
            )
    return apply_transforms(ds, **options)
