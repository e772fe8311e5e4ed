"""Connection patterns of pre-defined sparse junctions (see ``docs/design/patterns.md``)."""

from predsparse.patterns.core import Pattern, from_dense
from predsparse.patterns.counting import count_clash_free, enumerate_clash_free
from predsparse.patterns.generators import (
    KINDS,
    clash_free,
    fully_connected,
    in_degree_for,
    make,
    random,
    structured,
)
from predsparse.patterns.io import from_spec, load, save
from predsparse.patterns.network import NetworkPatterns, network, out_degrees_for_density
from predsparse.patterns.scatter import network_scatter, scatter
from predsparse.patterns.windows import windowed, windows_1d, windows_2d, windows_3d

__all__ = [
    "KINDS",
    "count_clash_free",
    "enumerate_clash_free",
    "network_scatter",
    "out_degrees_for_density",
    "scatter",
    "windowed",
    "windows_1d",
    "windows_2d",
    "windows_3d",
    "NetworkPatterns",
    "Pattern",
    "clash_free",
    "from_dense",
    "from_spec",
    "fully_connected",
    "in_degree_for",
    "load",
    "make",
    "network",
    "random",
    "save",
    "structured",
]
