"""predsparse: pre-defined sparse neural networks.

Modules: ``patterns`` (connection patterns), ``nn`` (truly sparse layers), ``data`` (dataset
format and loaders), ``morse`` (Morse datasets and difficulty metrics), ``train`` (training loop),
``experiments`` (sweeps and tables), ``hardware`` (fixed-point edge-based training hardware model),
``search`` (model search) and ``cli`` (the ``predsparse`` command).
"""

__version__ = "0.1.0"
