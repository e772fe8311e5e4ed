"""predsparse: pre-defined sparse neural networks.

Modules: ``patterns`` (connection patterns), ``nn`` (truly sparse layers), ``data`` (dataset
format and loaders), ``morse`` (Morse datasets and difficulty metrics), ``train`` (training loop),
``experiments`` (sweeps and tables), ``hardware`` (fixed-point edge-based training hardware model),
``search`` (model search) and ``cli`` (the ``predsparse`` command).

Importing predsparse sets up threading for a busy machine before torch and numba load (OpenMP
threads sleep at barriers instead of spinning; ``PREDSPARSE_THREADS``): see :mod:`predsparse.threads`.
"""

from predsparse import threads as _threads

_threads.apply_defaults()  # first: the OpenMP runtimes read these variables when they load

__version__ = "0.1.0"
