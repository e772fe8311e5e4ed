"""``predsparse train``: train one pre-defined sparse (or fully connected) MLP on a dataset."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import click

from predsparse.cli.common import (  # checked while parsing, before any work
    CLASH_TYPE_HELP,
    D_OUT_HELP,
    DITHER_HELP,
    EPOCHS_HELP,
    KIND_CHOICES,
    LIMIT_HELP,
    POSITIVE_INT,
    PROGRESS_HELP,
    OutputPath,
    deprecated_alias,
    emit_json,
    float_list,
    handle_errors,
    int_list,
    json_option,
    removed_option,
)
from predsparse.data.augment import AUGMENTATIONS
from predsparse.errors import DivergenceError, InputError

if TYPE_CHECKING:  # annotations only: the command imports its heavy modules when it runs
    from predsparse.data.format import Dataset
    from predsparse.train.spec import ModelSpec

# training also knows the local (receptive-field) kind, which needs the data's image shape
PATTERN_CHOICES = [*KIND_CHOICES[:-1], "local", KIND_CHOICES[-1]]


def dataset_options(f):  # noqa: ANN201 - click decorator
    """Options shared by commands that load a dataset."""
    opts = [
        click.option(
            "--dataset", required=True, help="fashion-mnist, mnist, morse[:preset], an .npz file or an IDX directory."
        ),
        click.option(
            "--normalize",
            type=click.Choice(["unit", "standard", "none"]),
            default="unit",
            show_default=True,
            help="Feature scaling from the training split: unit (divide by the largest absolute value), standard (zero mean, unit variance per feature) or none.",
        ),
        click.option(
            "--pca",
            "pca_k",
            type=POSITIVE_INT,
            default=None,
            help="Reduce features to K principal components (less redundancy).",
        ),
        click.option(
            "--pad-to",
            type=POSITIVE_INT,
            default=None,
            help="Zero-pad inputs to this width (the hardware used 1024 for MNIST).",
        ),
        click.option("--limit-train", type=POSITIVE_INT, default=None, help=LIMIT_HELP.format(split="training")),
        click.option("--limit-val", type=POSITIVE_INT, default=None, help=LIMIT_HELP.format(split="validation")),
        click.option("--limit-test", type=POSITIVE_INT, default=None, help=LIMIT_HELP.format(split="test")),
        click.option(
            "--data-seed", type=int, default=0, show_default=True, help="Seeds the validation split and subsets."
        ),
        # Stored on the click context (not a function argument) so every command using these options gets it.
        click.option(
            "--param",
            "dataset_params",
            multiple=True,
            metavar="KEY=VALUE",
            expose_value=False,
            callback=lambda ctx, _p, v: ctx.meta.__setitem__("dataset_params", tuple(v)),
            help="A generator parameter of a synthetic dataset (repeatable), as in `morse generate`, "
            "e.g. --dataset morse --param dilation=4 --param min_len_dash=3.",
        ),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def load_from_options(
    dataset: str,
    seed: int,
    normalize: str,
    pca_k,
    pad_to,
    limit_train,
    limit_val,
    limit_test,
    params: tuple[str, ...] | None = None,
) -> Dataset:
    """The dataset named by the shared options; ``seed`` (--data-seed) fixes splits and subsets; ``params``
    (``--param key=value``, read from the click context when not given) set a generator's parameters."""
    from predsparse.data import load_dataset
    from predsparse.data.loaders import dataset_generators

    if params is None:
        ctx = click.get_current_context(silent=True)
        params = ctx.meta.get("dataset_params", ()) if ctx is not None else ()
    gen_opts = {}
    if params:
        name = dataset.lower().partition(":")[0]
        if name != "morse" or name not in dataset_generators():
            raise InputError(
                f"--param {params[0]!r}: --param sets generator parameters of --dataset morse[:preset], "
                f"not of {dataset!r}"
            )
        from predsparse.morse import parse_overrides

        gen_opts = {name: parse_overrides(params)}
    return load_dataset(
        dataset,
        **gen_opts,
        seed=seed,
        normalize=None if normalize == "none" else normalize,
        pca_k=pca_k,
        pad_to=pad_to,
        limit_train=limit_train,
        limit_val=limit_val,
        limit_test=limit_test,
        subset_seed=seed,
    )


@click.command("train")
@dataset_options
@click.option(
    "--layers",
    required=True,
    help="N_net, e.g. 784,100,10 (input size must match the data's features; 'auto' "
    "as the first entry follows the data); with --conv, the classifier's sizes above the conv features, e.g. 100,10.",
)
@click.option("--d-out", "out_degree", default=None, help=D_OUT_HELP)
@deprecated_alias("--out-degree", "--d-out", "out_degree")
@click.option("--density", default=None, help="Instead of --d-out: target density per junction (or one for all).")
@click.option(
    "--kind",
    "pattern",
    type=click.Choice(PATTERN_CHOICES),
    default="structured",
    show_default=True,
    help="Pattern kind: clash-free, structured, random, local (first junction: each neuron on one --window patch "
    "of the input image; random above), or fc (fully connected).",
)
@deprecated_alias("--pattern", "--kind", "pattern")
@click.option(
    "--z",
    default=None,
    help="Clash-free: edges per clock per junction, e.g. 112,50 (must divide each left layer; "
    "default N_{i-1}/gcd(N_{i-1}, 4), memory depth 4 where it divides).",
)
@click.option("--clash-type", type=click.IntRange(1, 3), default=2, show_default=True, help=CLASH_TYPE_HELP)
@click.option(
    "--window",
    type=POSITIVE_INT,
    default=5,
    show_default=True,
    help="--kind local: each first-layer neuron takes its inputs from one WINDOW x WINDOW patch of the image.",
)
@click.option("--dither/--no-dither", default=False, help=DITHER_HELP)
@click.option(
    "--conv",
    default=None,
    help="A dense CNN front end under the sparse classifier: channels per conv block, "
    "e.g. 16,32 (1-D for sequence data, 2-D for images).",
)
@click.option("--kernel-size", type=int, default=3, show_default=True, help="With --conv: odd kernel size.")
@click.option(
    "--pool", type=POSITIVE_INT, default=2, show_default=True, help="With --conv: max-pool size after each block."
)
@click.option(
    "--activation",
    type=click.Choice(["relu", "sigmoid", "tanh"]),
    default="relu",
    show_default=True,
    help="Hidden-layer activation.",
)
@click.option("--dropout", type=float, default=0.0, show_default=True, help="Dropout probability on hidden layers.")
@click.option("--epochs", type=int, default=10, show_default=True, help=EPOCHS_HELP)
@click.option("--batch-size", type=int, default=256, show_default=True, help="Training samples per step.")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Learning rate.")
@click.option("--optimizer", type=click.Choice(["adam", "sgd"]), default="adam", show_default=True, help="Optimizer.")
@click.option("--l2", type=float, default=0.0, show_default=True, help="L2 coefficient lambda on the weights.")
@click.option(
    "--lr-schedule",
    type=click.Choice(["constant", "cosine"]),
    default="constant",
    show_default=True,
    help="Learning rate per epoch: constant, or cosine-annealed from --lr towards 0 over --epochs.",
)
@click.option(
    "--label-smoothing",
    type=float,
    default=0.0,
    show_default=True,
    help="Share of a uniform target mixed into the training labels (0 <= s < 1).",
)
@click.option(
    "--augment",
    type=click.Choice(list(AUGMENTATIONS)),
    default="none",
    show_default=True,
    help="Training-batch augmentation of images: left-right flips, random shifts of up to 2 pixels, or both.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seeds patterns, initial weights, batches and subsets."
)
@click.option(
    "--device", default="cpu", show_default=True, help="torch device, e.g. cuda (sparse ops then use torch CSR)."
)
@removed_option("--max-model-gb", "--memory-limit", " (a size with a unit, e.g. --memory-limit 8G; on every command)")
@click.option("--save", "save_path", type=OutputPath(), default=None, help="Write the trained model (.safetensors).")
@click.option("--checkpoint", type=OutputPath(), default=None, help="Per-epoch checkpoint; rerunning with it resumes.")
@click.option(
    "--keep-diverging",
    is_flag=True,
    help="Let a diverging run (loss far beyond its start, stuck at chance) "
    "train on, flagged in the summary and the JSON, instead of stopping it with an error.",
)
@click.option("--progress/--no-progress", default=True, help=PROGRESS_HELP)
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="Data-parallel (DDP) processes for this one training; under torchrun: the world size.",
)
@json_option
@handle_errors
def train(
    dataset,
    normalize,
    pca_k,
    pad_to,
    limit_train,
    limit_val,
    limit_test,
    data_seed,
    layers,
    out_degree,
    density,
    pattern,
    z,
    clash_type,
    window,
    dither,
    conv,
    kernel_size,
    pool,
    activation,
    dropout,
    epochs,
    batch_size,
    lr,
    optimizer,
    l2,
    lr_schedule,
    label_smoothing,
    augment,
    seed,
    device,
    save_path,
    checkpoint,
    keep_diverging,
    progress,
    workers,
    as_json,
) -> None:
    """Train a pre-defined sparse MLP (optionally under a dense CNN front end) and print test accuracy,
    rho_net, parameters and time."""
    import torch

    from predsparse.train import TrainConfig, save_model
    from predsparse.train.run import run

    if workers < 1:
        raise InputError(f"--workers {workers} must be a whole number >= 1")
    if workers > 1 and augment != "none":
        raise InputError(f"--augment {augment} is not supported with --workers {workers}: use one or the other")
    spec = spec_from_options(
        layers, out_degree, density, pattern, z, clash_type, dither, conv, kernel_size, pool, activation, dropout, seed
    )
    spec = replace(spec, window=window)
    if pattern == "local" and conv:
        raise InputError(f"--kind local draws its patches on the input image: it cannot sit above --conv {conv}")
    # everything but the match with the data, before loading it (a local pattern needs the data's image shape)
    if spec.layers[0] != "auto" and not spec.conv and pattern != "local":
        spec.validate((spec.layers[0],))
    try:
        torch_device = torch.device(device)
    except RuntimeError:
        raise InputError(f"--device {device!r} is not a torch device (e.g. cpu, cuda, cuda:1)") from None
    if torch_device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {device}: CUDA is not available on this machine")
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        optimizer=optimizer,
        l2=l2,
        lr_schedule=lr_schedule,
        label_smoothing=label_smoothing,
        augment=augment,
        seed=seed,
        device=device,
        stop_on_divergence=not keep_diverging,
    )
    ds = load_from_options(dataset, data_seed, normalize, pca_k, pad_to, limit_train, limit_val, limit_test)
    spec.validate(ds.feature_shape)
    kept: dict = {}
    try:
        rec = run(
            spec, config, ds, progress=progress and not as_json, checkpoint=checkpoint, workers=workers, keep=kept
        )
    except DivergenceError as exc:  # the same line, naming this command's option to keep going
        raise InputError(
            f"training diverged: {exc.reason}: lower the learning rate (now {lr:g}), or train on, "
            "flagged, with --keep-diverging"
        ) from None
    if workers > 1:
        from predsparse.train.distributed import is_main_process

        if not is_main_process():  # under torchrun only rank 0 reports and saves
            return
    model, net = kept["model"], kept["network"]
    summary = {
        "dataset": rec["dataset"],
        "network": net.summary(),
        "cnn": getattr(model, "config", None),
        "kind": pattern,
        **{k: rec[k] for k in ("test_acc", "best_val_acc", "best_epoch", "rho_net", "parameters")},
        "seconds": rec["wall_seconds"],
        "workers": workers,
        "diverged": rec["diverged"],  # the reason, or null
        "history": rec["history"],
        "config": rec["train"],
        "spec": rec["spec"],
        "seeds": rec["seeds"],
        "versions": rec["versions"],
    }
    if save_path:
        save_model(save_path, model, info={k: summary[k] for k in ("kind", "test_acc", "config", "dataset")})
    if as_json:
        emit_json(summary)
        return
    channels = list(spec.conv)
    click.echo(
        f"dataset      {ds.summary()['name']}: {ds.num_features} features, {ds.num_classes} classes, "
        f"{len(ds.xtr)}/{len(ds.xva)}/{len(ds.xte)} train/val/test"
    )
    front = f"conv {channels} (dense) -> " if channels else ""
    click.echo(f"network      {front}N_net={net.layers} d_out_net={net.d_out_net} d_in_net={net.d_in_net} ({pattern})")
    click.echo(
        f"rho_net      {100 * net.rho_net:.2f} %  (junctions: {', '.join(f'{100 * d:.1f}%' for d in net.densities)})"
    )
    conv_params = model.parameters_count - net.edges - sum(net.layers[1:])
    click.echo(
        f"parameters   {model.parameters_count} ({net.edges} weights + {sum(net.layers[1:])} biases"
        + (f" + {conv_params} in the conv front end)" if channels else ")")
    )
    click.echo(f"best epoch   {rec['best_epoch']} (val acc {100 * rec['best_val_acc']:.2f} %)")
    click.echo(f"test acc     {100 * rec['test_acc']:.2f} %")
    click.echo(f"time         {rec['wall_seconds']:.1f} s")
    if rec["diverged"]:  # only reachable with --keep-diverging
        click.echo(f"DIVERGED     {rec['diverged']}")
    if save_path:
        click.echo(f"saved        {save_path}")


def spec_from_options(
    layers,
    out_degree,
    density,
    pattern,
    z,
    clash_type,
    dither,
    conv,
    kernel_size,
    pool,
    activation,
    dropout,
    seed,
) -> ModelSpec:
    """The :class:`~predsparse.train.spec.ModelSpec` the ``train`` options describe. With ``--conv``,
    ``--layers`` lists the classifier above the front end, whose input layer (``auto``) the data decides."""
    from predsparse.train.spec import ModelSpec

    parts = [p.strip() for p in str(layers).split(",")]
    first_auto = parts[0].lower() == "auto"
    n_net = int_list(",".join(parts[1:] if first_auto else parts), "layers") or []
    channels = int_list(conv, "conv") or []
    if channels and first_auto:
        raise InputError("--layers with --conv lists the classifier above the conv features (no 'auto'): e.g. 100,10")
    d_out = int_list(out_degree, "d-out")
    dens = float_list(density, "density") if density is not None else None
    if dens is not None and d_out is not None:
        raise InputError("give --d-out or --density, not both")
    if pattern != "fc" and d_out is None and dens is None:
        raise InputError(f"--kind {pattern} needs --d-out (or --density); use --kind fc for fully connected")
    return ModelSpec(
        layers=("auto", *n_net) if channels or first_auto else tuple(n_net),
        d_out=None if pattern == "fc" else d_out,
        density=None if pattern == "fc" or dens is None else (dens[0] if len(dens) == 1 else tuple(dens)),
        kind=pattern,
        z=int_list(z, "z"),
        clash_type=clash_type,
        dither=dither,
        conv=tuple(channels),
        kernel_size=kernel_size,
        pool=pool,
        activation=activation,
        dropout=dropout,
        seed=seed,
    )


COMMANDS: list[click.Command] = [train]
