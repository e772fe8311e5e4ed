"""Model search for low-complexity pre-defined sparse networks (Optuna; see ``docs/design/search.md``)."""

from predsparse.search.runner import SearchSettings, pareto_front, plot_front, retrain_command, run_search
from predsparse.search.space import SearchSpace, sample

__all__ = ["SearchSettings", "SearchSpace", "pareto_front", "plot_front", "retrain_command", "run_search", "sample"]
