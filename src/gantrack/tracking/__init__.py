"""Tracking: MLflow ``runs`` (one per stage execution), the ``spool``, ``tracker`` and
``sync`` that make logging survive a lost store, ``lineage`` (run records, and links
to the runs of stages DVC reused), the model ``registry`` (the ``champion`` alias and its
promotion too), the ``pyfunc_sampler`` model, DVC's ``run_cache``, and local ``services``
(an MLflow server on PostgreSQL)."""
