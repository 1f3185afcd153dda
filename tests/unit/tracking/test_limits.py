"""log_in_batches: every entry logged once, in order, in slices MLflow accepts."""

import pytest

from gantrack.tracking.limits import (
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_PER_BATCH,
    MAX_TAGS_PER_BATCH,
    log_in_batches,
)


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, run_id, **entries):
        ((keyword, batch),) = entries.items()  # one kind of entry per call
        self.calls.append((run_id, keyword, list(batch)))


@pytest.mark.parametrize(
    ("keyword", "limit"),
    [
        ("metrics", MAX_METRICS_PER_BATCH),
        ("params", MAX_PARAMS_PER_BATCH),
        ("tags", MAX_TAGS_PER_BATCH),
    ],
)
def test_slices_each_kind_to_its_limit_in_order(keyword, limit):
    entries = list(range(2 * limit + 7))
    recorder = Recorder()

    log_in_batches(recorder, "run-1", **{keyword: entries})

    assert [len(batch) for _, _, batch in recorder.calls] == [limit, limit, 7]
    assert {(run_id, kind) for run_id, kind, _ in recorder.calls} == {("run-1", keyword)}
    assert [entry for _, _, batch in recorder.calls for entry in batch] == entries


def test_a_batch_exactly_at_the_limit_is_one_call():
    recorder = Recorder()
    log_in_batches(recorder, "run-1", params=range(MAX_PARAMS_PER_BATCH))
    assert [len(batch) for _, _, batch in recorder.calls] == [MAX_PARAMS_PER_BATCH]


def test_several_kinds_each_get_their_own_calls_and_empty_kinds_none():
    recorder = Recorder()
    log_in_batches(recorder, "run-1", metrics=iter([1.0]), params=[], tags=("a", "b"))
    assert recorder.calls == [("run-1", "metrics", [1.0]), ("run-1", "tags", ["a", "b"])]


def test_nothing_to_log_makes_no_call():
    recorder = Recorder()
    log_in_batches(recorder, "run-1")
    assert recorder.calls == []
