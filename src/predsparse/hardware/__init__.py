"""Bit-accurate model of the edge-based, clash-free, pipelined training hardware (``docs/design/hardware.md``).

- :mod:`~predsparse.hardware.config`: :class:`HwConfig` with every architecture rule checked up front;
- :mod:`~predsparse.hardware.fixedpoint`, :mod:`~predsparse.hardware.tables`: the RTL's arithmetic;
- :mod:`~predsparse.hardware.simulator`: the fast architecture-level model (:class:`ArchSimulator`);
- :mod:`~predsparse.hardware.cycle`: the clock-by-clock model (:class:`CycleSimulator`), BP hazard switch;
- :mod:`~predsparse.hardware.reference`: the floating-point twin (:class:`FloatReference`);
- :mod:`~predsparse.hardware.timing`: stalls, read clocks, hazard survivors, padding-only neurons;
- :mod:`~predsparse.hardware.fast`, :mod:`~predsparse.hardware.cycle_fast`: compiled engines of both simulators
  (bit-identical to the numpy references, which stay as ``engine="reference"``);
- :mod:`~predsparse.hardware.cost`, :mod:`~predsparse.hardware.resources`, :mod:`~predsparse.hardware.devices`:
  the cost sheet and the device fit check;
- :mod:`~predsparse.hardware.delays`, :mod:`~predsparse.hardware.pipeline`: timing model, pipelined designs;
- :mod:`~predsparse.hardware.export`, :mod:`~predsparse.hardware.run`.

Uses :mod:`predsparse.patterns` and :mod:`predsparse.data`, never :mod:`predsparse.nn`.
"""

from predsparse.hardware.config import HwConfig, fpga_reference
from predsparse.hardware.cost import cost_report, hazard_fixes, network_cost
from predsparse.hardware.cycle import CycleSimulator
from predsparse.hardware.fixedpoint import FixedFormat
from predsparse.hardware.reference import FloatReference
from predsparse.hardware.simulator import ArchSimulator
from predsparse.hardware.tables import ActivationTables

__all__ = [
    "ActivationTables",
    "ArchSimulator",
    "CycleSimulator",
    "FixedFormat",
    "FloatReference",
    "HwConfig",
    "cost_report",
    "fpga_reference",
    "hazard_fixes",
    "network_cost",
]
