"""One spelling per concept (issue 10): the command tree's option names, help text and deprecated aliases."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from predsparse.cli import main
from predsparse.cli.common import _AliasOption

# spellings that are gone from the visible interface (some stay as hidden deprecated aliases)
OLD = {
    "--out-degree",
    "--pattern",
    "--type",
    "--in",
    "--train-limit",
    "--val-limit",
    "--test-limit",
    "--max-model-gb",
    "--kinds-list",
    "--dout",
}
# concept -> the only visible spellings allowed anywhere
CONCEPTS = {
    "out-degree": {"--d-out"},
    "pattern kind": {"--kind", "--kinds"},
    "clash type": {"--clash-type"},
    "seed": {"--seed", "--seeds", "--data-seed", "--retrain-seeds"},
    "layer size": {"--n-in", "--n-out", "--layers"},
    "memory limit": {"--memory-limit"},
}
SPELLINGS = {  # a visible option matching one of these words belongs to that concept
    "out-degree": ("degree", "d-out", "dout"),
    "pattern kind": ("kind", "pattern"),
    "clash type": ("clash", "type"),
    "seed": ("seed",),
    "layer size": ("--in", "--out", "n-in", "n-out", "layers"),
    "memory limit": ("memory", "model-gb"),
}
EXCEPT = {"--seed-vectors", "--out", "--lr-rounding"}  # hw seed vectors (not a seed); --out is an output path


def commands(cmd: click.Command = main, path: tuple[str, ...] = ()) -> list[tuple[str, click.Command]]:
    if isinstance(cmd, click.Group):
        return [c for name, sub in sorted(cmd.commands.items()) for c in commands(sub, (*path, name))]
    return [(" ".join(path), cmd)]


def visible(cmd: click.Command) -> list[click.Option]:
    return [p for p in cmd.params if isinstance(p, click.Option) and not p.hidden]


def test_every_option_of_every_command_has_help_text():
    missing = [
        f"{name} {'/'.join(p.opts)}" for name, cmd in commands() for p in visible(cmd) if not (p.help or "").strip()
    ]
    assert missing == []


def test_no_two_commands_spell_a_concept_differently():
    seen: dict[str, set[str]] = {c: set() for c in CONCEPTS}
    for _, cmd in commands():
        for p in visible(cmd):
            for opt in p.opts + p.secondary_opts:
                assert opt not in OLD, f"old spelling {opt} is visible"
                if opt in EXCEPT:
                    continue
                for concept, words in SPELLINGS.items():
                    if any(w in opt for w in words):
                        seen[concept].add(opt)
    for concept, opts in seen.items():
        assert opts <= CONCEPTS[concept], (concept, opts - CONCEPTS[concept])
    assert seen["out-degree"] == {"--d-out"} and "--kind" in seen["pattern kind"]


def test_out_is_always_a_path_and_seeds_and_epochs_are_integers():
    for name, cmd in commands():
        for p in visible(cmd):
            if "--out" in p.opts:
                assert not isinstance(p.type, (click.types.IntParamType, click.IntRange)), f"{name} --out is a number"
            if p.opts[0] in ("--seed", "--epochs", "--data-seed"):
                assert isinstance(p.type, (click.types.IntParamType, click.IntRange)), (
                    f"{name} {p.opts[0]} is {p.type.name}"
                )


def test_every_deprecated_alias_names_an_option_of_its_command():
    aliases = 0
    for name, cmd in commands():
        names = {p.name: p for p in visible(cmd)}
        for p in cmd.params:
            if isinstance(p, _AliasOption):
                aliases += 1
                assert p.hidden and p.opts[0] in OLD
                target = names[p.alias_dest]
                assert p.alias_of in target.opts, (name, p.opts, p.alias_of)
    assert aliases >= 20  # train, pattern show/count/scatter and the six hw commands carry them


def invoke(args: list[str]) -> click.testing.Result:
    return CliRunner().invoke(main, ["--threads", "1", *args])


COUNT = ["pattern", "count", "--n-in", "9", "--n-out", "6", "--z", "3", "--json"]


@pytest.mark.parametrize(
    "args, old, new",
    [
        ([*COUNT, "--clash-type", "1"], ["--out-degree", "2"], ["--d-out", "2"]),
        ([*COUNT, "--d-out", "2"], ["--type", "1"], ["--clash-type", "1"]),
        (
            ["pattern", "show", "--n-in", "8", "--n-out", "4", "--d-out", "2", "--z", "2", "--json"],
            ["--pattern", "clash-free"],
            ["--kind", "clash-free"],
        ),
        (
            ["pattern", "scatter", "--layers", "8,4,2", "--d-out", "2,1", "--json"],
            ["--pattern", "random"],
            ["--kind", "random"],
        ),
        (["hw", "cost", "--layers", "16,8,4", "--z", "8,4", "--json"], ["--out-degree", "2,2"], ["--d-out", "2,2"]),
        (
            ["hw", "cost", "--layers", "16,8,4", "--d-out", "2,2", "--z", "8,4", "--json"],
            ["--pattern", "structured"],
            ["--kind", "structured"],
        ),
    ],
)
def test_old_spelling_gives_the_same_output_and_exactly_one_warning_line(args, old, new):
    r_new, r_old = invoke([*args, *new]), invoke([*args, *old])
    assert r_new.exit_code == 0, r_new.output
    assert r_new.stderr == ""
    assert r_old.exit_code == 0, r_old.output
    assert r_old.stdout == r_new.stdout  # same numbers: the alias fills the very same parameter
    assert r_old.stderr.splitlines() == [f"warning: {old[0]} is deprecated, use {new[0]}"]


def test_old_spelling_with_equals_sign_and_hw_limits_warn_too():
    r = invoke([*COUNT, "--clash-type", "1", "--out-degree=2"])
    assert r.exit_code == 0 and r.stderr.splitlines() == ["warning: --out-degree is deprecated, use --d-out"]
    r = invoke(["hw", "hazard", "--preset", "fpga", "--train-limit", "5", "--json"])
    assert r.exit_code == 0, r.output
    assert r.stderr.splitlines() == ["warning: --train-limit is deprecated, use --limit-train"]


def test_a_deprecated_alias_is_checked_like_the_new_option():
    r = invoke([*COUNT, "--out-degree", "two"])
    assert r.exit_code == 2 and "--d-out" in r.stderr or "two" in r.stderr


@pytest.mark.parametrize(
    "args, new",
    [
        (["pattern", "show", "--n-in", "8", "--out", "4", "--d-out", "2"], "--n-out"),
        (["pattern", "show", "--in", "8", "--n-out", "4", "--d-out", "2"], "--n-in"),
        (["pattern", "count", "--in", "9", "--out", "6", "--d-out", "2", "--z", "3"], "--n-in"),
        (["train", "--dataset", "morse", "--layers", "64,10", "--kind", "fc", "--max-model-gb", "8"], "--memory-limit"),
    ],
)
def test_removed_size_spellings_are_refused_naming_the_new_option(args, new):
    r = invoke(args)
    assert r.exit_code == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and new in lines[0]


def test_old_config_key_is_read_as_d_out_and_resumes_the_rows_stored_before_the_rename(capsys):
    from predsparse.experiments.store import canonical
    from predsparse.experiments.sweep import _key, expand, parse_config

    def cfg(key: str) -> dict:
        return {
            "name": "s",
            "seeds": [0],
            "base": {"dataset": {"name": "morse"}, "network": {"layers": [64, 32, 8]}, "train": {"epochs": 1}},
            "variants": [{"network.kind": "fc"}, {f"network.{key}": [8, 2]}],
        }

    new = parse_config(cfg("d_out"))
    assert capsys.readouterr().err == ""
    old = parse_config(cfg("out_degrees"), source="old.toml")
    assert capsys.readouterr().err.splitlines() == [
        "warning: old.toml: network.out_degrees is deprecated, use network.d_out"
    ]
    assert old.varied == new.varied == ["network.kind", "network.d_out"]
    runs = expand(new)
    assert [canonical(_key(r)) for r in expand(old)] == [canonical(_key(r)) for r in runs]
    # the key a store written before the rename holds for the sparse run, spelled out by hand
    before = {
        "dataset": {"name": "morse"},
        "network": {"layers": [64, 32, 8], "out_degrees": [8, 2]},
        "train": {"epochs": 1},
        "seed": 0,
    }
    assert canonical(_key(runs[1])) == canonical(before)
    assert runs[1]["network"]["d_out"] == [8, 2]


def test_python_api_spellings_d_out_d_in_and_clash_type():
    from predsparse import patterns as P
    from predsparse.errors import InputError

    a = P.clash_free(8, 4, 2, 4, type=1, seed=3)
    b = P.clash_free(8, 4, 2, 4, clash_type=1, seed=3)
    assert a == b and a.same_matrix(b)
    with pytest.raises(InputError, match="disagree"):
        P.clash_free(8, 4, 2, 4, type=1, clash_type=3)
    # d_out / d_in by hand: 8 left neurons x 2 edges = 16 edges over 4 right neurons -> d_in = 4
    assert (a.d_out, a.d_in) == (a.out_degree, a.in_degree) == (2, 4)
    net = P.network([8, 4, 2], d_out=[2, 1], kind="structured", seed=0)
    assert [p.d_out for p in net.patterns] == [2, 1] and [p.d_in for p in net.patterns] == [4, 2]
