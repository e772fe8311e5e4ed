"""FPGA device capacities for the fit check of ``hw cost --device``.

Figures from the Xilinx/AMD *7 Series FPGAs Data Sheet: Overview* (DS180), table "Artix-7 FPGA Feature
Summary by Device": slices (4 LUT6 and 8 flip-flops each), CLB flip-flops, maximum distributed RAM,
DSP48E1 slices, 36 Kb block RAMs (each usable as two 18 Kb blocks). LUTs = 4 x slices; LUTs usable as
memory (SLICEM) = distributed RAM bits / 64.
"""

from __future__ import annotations

from dataclasses import dataclass

from predsparse.errors import InputError


@dataclass(frozen=True)
class Device:
    """Capacities of one FPGA (DS180)."""

    name: str
    slices: int
    flip_flops: int
    distributed_ram_kb: int
    dsp: int
    bram36: int

    @property
    def luts(self) -> int:
        return 4 * self.slices

    @property
    def lutram_luts(self) -> int:
        return self.distributed_ram_kb * 1024 // 64

    @property
    def bram18(self) -> int:
        return 2 * self.bram36


DEVICES = {
    d.name: d
    for d in (
        Device("xc7a35t", slices=5_200, flip_flops=41_600, distributed_ram_kb=400, dsp=90, bram36=50),
        Device("xc7a50t", slices=8_150, flip_flops=65_200, distributed_ram_kb=600, dsp=120, bram36=75),
        Device("xc7a75t", slices=11_800, flip_flops=94_400, distributed_ram_kb=892, dsp=180, bram36=105),
        Device("xc7a100t", slices=15_850, flip_flops=126_800, distributed_ram_kb=1_188, dsp=240, bram36=135),
        Device("xc7a200t", slices=33_650, flip_flops=269_200, distributed_ram_kb=2_888, dsp=740, bram36=365),
    )
}


def device(name: str) -> Device:
    """The named device, or an :class:`InputError` listing the known ones."""
    key = name.strip().lower()
    if key not in DEVICES:
        raise InputError(f"device {name!r} is not one of {', '.join(DEVICES)}")
    return DEVICES[key]
