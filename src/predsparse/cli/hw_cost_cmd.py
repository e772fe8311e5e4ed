"""``predsparse hw cost``: the cost sheet of a design and its fit on a device."""

from __future__ import annotations

from typing import Any

import click

from predsparse.cli.common import (  # checked while parsing, before any work
    emit_json,
    handle_errors,
    json_option,
)
from predsparse.cli.hw_common import (
    build_config,
    hw,
    network_options,
)


@hw.command("cost")
@network_options
@click.option(
    "--device", default=None, help="Check the fit on this FPGA (xc7a35t, xc7a50t, xc7a75t, xc7a100t, xc7a200t)."
)
@json_option
@handle_errors
def cost_cmd(
    net,
    device,
    as_json,
) -> None:
    """Cost sheet: DSP/LUT multipliers, adders, comparators, LUT/FF/BRAM, memory bits, speed, device fit."""
    from predsparse.hardware.cost import cost_report, hazard_fixes

    cfg = build_config(**net)
    rep = cost_report(cfg, device=device)
    rep["hazard_fixes"] = hazard_fixes(cfg)
    if as_json:
        emit_json(rep)
        return
    for name in ("sparse", "fc"):
        _print_cost(name, rep[name])
    click.echo(f"  fc rules: {rep['fc']['architecture_rules']}")
    click.echo("BP hazard and fixes:")
    for h in rep["hazard_fixes"]:
        click.echo(
            f"  {h['design']:>19}: lost {h['lost_per_input']}/{h['contributions_per_input']} per input, "
            f"{h['clocks_per_input']} clocks/input, {h['multipliers']} mult, z={h['z_net']} d_out={h['d_out_net']} P={h['P']}"
            + (
                f", +{h['comparators']} comparators, +{h['extra_register_bits']} register bits, +{h['muxes']} muxes"
                if "comparators" in h
                else ""
            )
        )


def _print_cost(name: str, r: dict[str, Any]) -> None:
    t, sh = r["totals"], r["sheet"]
    m = sh["multipliers"]
    click.echo(
        f"[{name}] N={r['N_net']} d_out={r['d_out_net']} z={r['z_net']} W={r['width']} P={r['P']}  rho_net={100 * t['rho_net']:.2f}%"
    )
    click.echo(f"  {'junction':>8} {'d_in':>6} {'D':>5} {'C':>5} {'mult':>6} {'add':>6} {'tables':>6} {'W+b bits':>9}")
    for j in r["junctions"]:
        click.echo(
            f"  {j['junction']:>8} {j['d_in']:>6} {j['D']:>5} {j['C']:>5} {j['multipliers']['total']:>6} "
            f"{j['adders']['total']:>6} {j['table_pairs']:>6} {j['weight_bits'] + j['bias_bits']:>9}"
        )
    for lr in r["layers"]:
        click.echo(
            f"  layer {lr['layer']}: a {lr['a_bits']} + a' {lr['a_prime_bits']} + delta {lr['delta_bits']} = {lr['bits']} bits"
        )
    click.echo(
        f"  multipliers: {m['total']} = {m['dsp']} on DSP48E1 (FF {m['ff_dsp']} + BP {m['bp_dsp']}; {sh['dsp_slices']} DSP slices) "
        f"+ {m['up_lut']} in LUTs (UP)"
    )
    parts = ", ".join(
        f"{a['what']} j{a['junction']} {a['count']}"
        for a in sh["adders"]
        if a["count"] and "comparator" not in a["what"]
    )
    click.echo(f"  adders/subtractors: {sh['adder_count']} ({parts}); comparators: {sh['comparator_count']} (arg-max)")
    lu = sh["luts"]
    click.echo(
        f"  estimates: {lu['total']} LUTs (LUT multipliers {lu['lut_multipliers']}, round/saturate {lu['round_saturate']}, "
        f"adders {lu['adders_comparators']}, addresses {lu['address_generation']}, distributed RAM {lu['lutram']}), "
        f"{sh['flip_flops']} flip-flops, {sh['bram18']} BRAM18"
    )
    click.echo(
        f"  total: {t['multipliers']} multipliers, {sh['adder_count']} adders + {sh['comparator_count']} comparators, {t['table_pairs']} table pairs, "
        f"{t['memory_bits']} memory bits (words stored), parallelism {t['parallelism']}"
    )
    click.echo(
        f"  {r['clocks_per_input']} clocks/input = {r['us_per_input']:.3g} us at {r['clock_hz'] / 1e6:g} MHz "
        f"({r['inputs_per_s']:.0f} inputs/s)"
    )
    if "device" in r:
        d = r["device"]
        use = ", ".join(
            f"{u['resource']} {u['used']}/{u['available']} ({100 * u['utilisation']:.1f} %)" for u in d["rows"]
        )
        verdict = "fits" if d["fits"] else f"does NOT fit ({', '.join(d['over'])} over)"
        click.echo(f"  {d['device']}: {use}")
        click.echo(f"  {d['device']}: {verdict}; limited by {d['limited_by']} ({100 * d['limit_utilisation']:.1f} %)")
