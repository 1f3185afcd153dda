import json
import os
import subprocess
import sys
import time

import pytest
from support.configs import tiny_train_config

from gantrack.gan.xla_probe import (
    BUSY_SHARE,
    MARGIN,
    CpuReading,
    choose_xla,
    cpu_reading,
    others_cpu_share,
    probe_key,
    step_rate,
)


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


def reading(wall: float, machine_busy: float, own: float) -> CpuReading:
    return CpuReading(wall, machine_busy, own)


def test_others_share_is_the_busy_time_this_process_did_not_spend():
    # 2 CPUs for 10 s: the machine was busy 14 CPU-s, 4 of them this process's own.
    start, end = reading(0, 100, 1), reading(10, 114, 5)
    assert others_cpu_share(start, end, cpus=2) == pytest.approx(10 / 20)
    # Only this process at work: nobody else.
    assert others_cpu_share(start, reading(10, 104, 5), cpus=2) == 0.0
    # Tick rounding never gives a share outside [0, 1].
    assert others_cpu_share(start, reading(10, 103.99, 5), cpus=2) == 0.0
    assert others_cpu_share(start, reading(1, 200, 1), cpus=2) == 1.0
    with pytest.raises(ValueError, match="cpus"):
        others_cpu_share(start, end, cpus=0)


def fake_clocks(*readings):
    queue = list(readings)
    return lambda: queue.pop(0)


def test_a_probe_on_a_busy_machine_decides_its_run_but_is_not_cached(params, tmp_path):
    cache, calls = tmp_path / "probe.json", []
    config = tiny_train_config(params)
    cpus = os.cpu_count() or 1
    # Others kept every CPU busy for the whole probe.
    busy = fake_clocks(reading(0, 0, 0), reading(10, 10 * cpus + 3, 3))
    first = choose_xla(config, (28, 28, 1), None, cache, fake_measure(100, 130, calls), busy)
    assert first.use_xla and first.busy and first.others_cpu_share == pytest.approx(1.0)
    assert "not cached" in first.reason and not cache.exists()
    # The next run probes again; on a quiet machine its answer is kept.
    quiet = fake_clocks(reading(0, 0, 0), reading(10, 3, 3))
    second = choose_xla(config, (28, 28, 1), None, cache, fake_measure(100, 50, calls), quiet)
    assert not second.use_xla and not second.busy and "not cached" not in second.reason
    assert calls == [False, True, False, True]
    third = choose_xla(config, (28, 28, 1), None, cache, fake_measure(100, 130, calls), quiet)
    assert third.cached and not third.use_xla and len(calls) == 4


def test_unknown_machine_load_still_caches(params, tmp_path):
    cache = tmp_path / "probe.json"
    choice = choose_xla(
        tiny_train_config(params), (28, 28, 1), None, cache, fake_measure(100, 130, []),
        lambda: None,
    )  # fmt: skip
    assert choice.others_cpu_share is None and not choice.busy and cache.exists()


def test_an_old_cache_entry_is_probed_again(params, tmp_path):
    cache, calls = tmp_path / "probe.json", []
    config = tiny_train_config(params)
    key = probe_key(config, (28, 28, 1), None)
    cache.write_text(json.dumps({key: {"use_xla": True, "rate": 1}}))
    choice = choose_xla(config, (28, 28, 1), None, cache, fake_measure(100, 50, calls))
    assert not choice.cached and calls == [False, True]


@pytest.mark.skipif(cpu_reading() is None, reason="no /proc/stat here")
def test_real_clocks_see_other_processes_keep_the_cpus_busy():
    cpus = os.cpu_count() or 1
    # Each spinner says "up" once its interpreter has started, then spins (30 s at most).
    spin = [
        sys.executable,
        "-c",
        "import time\nprint('up', flush=True)\nend = time.time() + 30\n"
        "while time.time() < end: pass",
    ]
    spinners = [subprocess.Popen(spin, stdout=subprocess.PIPE, text=True) for _ in range(cpus)]
    try:
        assert all(spinner.stdout.readline() == "up\n" for spinner in spinners)
        start = cpu_reading()
        time.sleep(1.5)  # this process idles: any busy time is the spinners'
        end = cpu_reading()
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    assert others_cpu_share(start, end, cpus) > BUSY_SHARE
