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
