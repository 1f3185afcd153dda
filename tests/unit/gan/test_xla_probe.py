import json

import pytest
from support.configs import tiny_train_config

from gantrack.gan.xla_probe import MARGIN, choose_xla, probe_key, step_rate


def fake_measure(plain: float, compiled: float, calls: list):
    def measure(xla: bool) -> float:
        calls.append(xla)
        return compiled if xla else plain

    return measure


@pytest.mark.parametrize(
    "plain, compiled, expected", [(100.0, 126.0, True), (236.0, 194.0, False), (100, 104, False)]
)
def test_auto_takes_xla_only_where_it_is_clearly_faster(
    params, tmp_path, plain, compiled, expected
):
    calls: list = []
    config = tiny_train_config(params)
    choice = choose_xla(config, (28, 28, 1), None, tmp_path / "probe.json",
                        fake_measure(plain, compiled, calls))  # fmt: skip
    assert choice.use_xla is expected and calls == [False, True] and not choice.cached
    assert f"{compiled / plain:.2f}×" in choice.reason
    assert MARGIN > 1


def test_the_decision_is_cached_per_machine_and_step_shape(params, tmp_path):
    cache, calls = tmp_path / "probe.json", []
    config = tiny_train_config(params)
    first = choose_xla(config, (28, 28, 1), None, cache, fake_measure(100, 130, calls))
    again = choose_xla(config, (28, 28, 1), None, cache, fake_measure(100, 50, calls))
    assert again.cached and again.use_xla == first.use_xla and calls == [False, True]
    # The seed and the length do not change a step's cost; its batch does.
    reseeded = config.model_copy(update={"seed": 9, "epochs": 7})
    assert probe_key(reseeded, (28, 28, 1), None) == probe_key(config, (28, 28, 1), None)
    wider = config.model_copy(update={"batch_size": 8})
    assert probe_key(wider, (28, 28, 1), None) != probe_key(config, (28, 28, 1), None)
    assert len(json.loads(cache.read_text())) == 1


def test_a_real_probe_times_both_steps(params):
    config = tiny_train_config(params, conditional=True)
    for xla in (False, True):
        assert step_rate(config, (28, 28, 1), 3, xla) > 0
