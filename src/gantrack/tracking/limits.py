"""MLflow's limits on one call, named once for every module that batches its calls.

The values are MLflow's own (``mlflow.utils.validation`` and ``mlflow.store.tracking``):
a ``log_batch`` with more entries, or a param value longer than this, is refused by the
store, and a search returns at most a page of runs per call.
"""

MAX_METRICS_PER_BATCH = 1000  # mlflow.utils.validation.MAX_METRICS_PER_BATCH
MAX_PARAMS_PER_BATCH = 100  # MAX_PARAMS_TAGS_PER_BATCH
MAX_TAGS_PER_BATCH = 100  # MAX_PARAMS_TAGS_PER_BATCH
MAX_PARAM_VALUE_LENGTH = 6000  # MAX_PARAM_VAL_LENGTH
SEARCH_PAGE_SIZE = 1000  # mlflow.store.tracking.SEARCH_MAX_RESULTS_DEFAULT


def log_in_batches(log_batch, run_id: str, *, metrics=(), params=(), tags=()) -> None:
    """Log ``metrics``, ``params`` and ``tags`` with as many ``log_batch`` calls as MLflow needs.

    ``log_batch`` is ``MlflowClient.log_batch`` or a wrapper of it (one that retries while
    the store is locked, say). Each call carries one kind of entry, sliced to that kind's
    limit above, in the order given; an empty kind makes no call.
    """
    kinds = (
        ("metrics", list(metrics), MAX_METRICS_PER_BATCH),
        ("params", list(params), MAX_PARAMS_PER_BATCH),
        ("tags", list(tags), MAX_TAGS_PER_BATCH),
    )
    for keyword, entries, size in kinds:
        for start in range(0, len(entries), size):
            log_batch(run_id, **{keyword: entries[start : start + size]})
