"""gantrack: a reproducible experiment pipeline for GANs (DVC + MLflow + Keras 3).

Folders are concepts, not stages (docs/architecture.md, "The folders"):

- ``data/``: datasets by name, their file formats, conversion, train/test splits.
- ``gan/``: networks, losses, penalties, augmentation, the ``keras.Model``, training,
  callbacks, checkpoints, sampling, image grids; ``session`` is one `train` stage run.
- ``evaluation/``: metric math (``metrics/``, pure NumPy/SciPy), feature networks, the
  evaluator classifier, and scoring (references, every metric of a sample set).
- ``tracking/``: MLflow runs, lineage of reused DVC stages, the model registry and its
  pyfunc sampler, the DVC run cache, local tracking services.
- ``cli/``: ``python -m gantrack <command>``: gate, promote, push, compare, run-url,
  tracking-server.

Beside them: ``config`` (the only reader of params.yaml), ``stage`` (the frame of every
pipeline script), ``distribute`` (strategies), ``epoch_report``, ``io`` (atomic files),
``errors``.
"""

__version__ = "0.1.0"
