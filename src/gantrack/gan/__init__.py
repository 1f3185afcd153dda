"""The GAN: ``networks`` (the DCGAN: docs/design.md), ``losses``, ``penalties`` (WGAN-GP, R1),
``augmentation`` (DiffAugment), ``model`` (the ``keras.Model`` with its ``train_step``),
``training`` (building and fitting it), ``callbacks``, ``checkpoints``, ``sampling`` and
``session`` (one run of the `train` stage). Image grids are :mod:`gantrack.images`."""
