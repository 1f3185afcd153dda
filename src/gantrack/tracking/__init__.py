"""Tracking: MLflow ``runs`` (one per pipeline execution) opened in the ``context`` the
environment gives, tagged with their ``provenance`` (git state, uv.lock); ``log`` (what a
stage calls to log); the ``spool``, ``tracker`` and ``sync`` that make logging survive a
lost store, the ``store`` checks and retries, and the ``lost_store`` policy; ``lineage``
(run records, and links to the runs of stages DVC reused), ``links`` (UI pages); the model
``registry`` (the ``champion`` alias and its promotion too), the ``pyfunc_sampler`` model,
DVC's ``run_cache``, local ``services`` (an MLflow server on PostgreSQL) and MLflow's
``limits``."""
