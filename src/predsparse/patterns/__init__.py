"""Connection patterns of pre-defined sparse junctions (see ``design/patterns.md``)."""

from predsparse.patterns.core import Pattern, from_dense, load
from predsparse.patterns.generators import (
    KINDS,
    clash_free,
    from_spec,
    fully_connected,
    in_degree_for,
    make,
    random,
    structured,
)
from predsparse.patterns.network import NetworkPatterns, network

__all__ = [
    "KINDS",
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
    "structured",
]
