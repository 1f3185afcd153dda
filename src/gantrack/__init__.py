"""gantrack: a reproducible experiment pipeline for GANs (DVC + MLflow + Keras 3).

Modules are concepts, not stages: ``config`` (the only reader of params.yaml), ``datasets``
and ``data`` (loading and splitting), ``networks``, ``losses``, ``gan``, ``training``,
``callbacks``, ``sampling``, ``images``, ``metrics`` (pure math), ``evaluation``,
``tracking`` (MLflow), ``io`` (atomic files) and ``stage`` (the pipeline scripts' frame).
"""

__version__ = "0.1.0"
