"""The seed's studies on one engine: every training goes through :func:`predsparse.train.run.run`.

- :mod:`.sweep`: configs (base, grid, variants, seeds), validated run by run before anything trains, run into
  a results store (:mod:`.store`, SQLite) and resumable; :mod:`.report`: seed-style tables and plots from it;
  :mod:`.tables`: ``format_table`` and ``mean_std``.
- :mod:`.demo`: the demo as a built-in sweep config.
- :mod:`.morse_study`: the Morse difficulty ladder (metrics from :mod:`predsparse.morse`, training here).
- :mod:`.scatter_study`: scatter before training against accuracy after, and the search's scatter threshold.
"""
