"""``train.xla: auto``: compile the training step with XLA only where it is faster.

The XLA step is not faster everywhere: it wins on some CPUs and loses on others
(``bench/bench_training.py`` measures it; CHANGELOG.md has the numbers). So ``auto`` decides
by measurement on the machine at hand: a throwaway GAN of the run's own shape takes a few
steps each way on random data, and XLA is used only when it is clearly faster
(:data:`MARGIN`). The decision is cached per machine and step shape
(``~/.cache/gantrack/xla-probe.json``), so reruns on one machine take the same path and
repeat bit for bit (the two paths' numbers differ), and only the first run pays the probe.
A probe timed while other processes kept the CPUs busy (more than :data:`BUSY_SHARE` of
them, read from ``/proc/stat``) still decides its own run but is not cached: a test suite
or a study running beside it can turn the ratio around, and a cached answer would keep
that accident for every later run. The train stage logs the decision and the rates behind it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from gantrack.config import TrainConfig

MARGIN = 1.05  # XLA must beat the plain step by 5%: a near tie keeps the plain, portable path
WARMUP_STEPS = 3  # tracing and compilation
TIMED_STEPS = 20
BUSY_SHARE = 0.25  # others' share of the machine's CPUs above which a probe is not cached
# What shapes a step's cost: a probe answers for these, not for the seed or the length.
STEP_SHAPE_KEYS = (
    "latent_dim",
    "batch_size",
    "loss",
    "critic_steps",
    "r1_gamma",
    "spectral_norm",
    "base_filters",
    "ema_decay",
    "diffaugment",
    "conditional",
    "mixed_precision",
)


@dataclass(frozen=True)
class XlaChoice:
    """Whether the step is XLA-compiled, and the probe's rates (steps/s) behind it."""

    use_xla: bool
    plain_steps_per_second: float
    xla_steps_per_second: float
    cached: bool
    # Share of all CPUs other processes used while the probe ran; None where unknown.
    others_cpu_share: float | None = None

    @property
    def busy(self) -> bool:
        return self.others_cpu_share is not None and self.others_cpu_share > BUSY_SHARE

    @property
    def reason(self) -> str:
        ratio = self.xla_steps_per_second / self.plain_steps_per_second
        source = "cached probe" if self.cached else "probe"
        verdict = "XLA" if self.use_xla else "the plain step"
        reason = f"train.xla auto: {verdict} ({source}: XLA {ratio:.2f}× the plain step's steps/s)"
        if self.busy:
            reason += (
                f"; not cached: other processes used {self.others_cpu_share:.0%} of the CPUs"
                " during the probe, so the next run probes again"
            )
        return reason


@dataclass(frozen=True)
class CpuReading:
    """A moment's clocks: wall time, the machine's busy CPU time, this process's CPU time."""

    wall_seconds: float
    machine_busy_seconds: float
    own_cpu_seconds: float


def cpu_reading() -> CpuReading | None:
    """Read the clocks now; None where the machine's CPU time cannot be read (not Linux)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return None
    if not fields or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(value) for value in (fields[1:9] + ["0"] * 8)[:8]
    )
    busy = (user + nice + system + irq + softirq + steal) / ticks
    return CpuReading(time.monotonic(), busy, time.process_time())


def others_cpu_share(start: CpuReading, end: CpuReading, cpus: int) -> float:
    """Share of the machine other processes kept busy between two readings, in [0, 1].

    share = (Δ machine busy − Δ own CPU) / (cpus · Δ wall). The machine's busy time counts
    every process, this one included; taking out this process's own CPU time leaves the
    others' (up to the kernel's tick, 1/``SC_CLK_TCK`` s per CPU, of rounding).
    """
    if cpus < 1:
        raise ValueError(f"cpus must be at least 1, got {cpus}")
    wall = end.wall_seconds - start.wall_seconds
    if wall <= 0:
        return 0.0
    others = (end.machine_busy_seconds - start.machine_busy_seconds) - (
        end.own_cpu_seconds - start.own_cpu_seconds
    )
    return min(max(others / (cpus * wall), 0.0), 1.0)


def default_cache() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "gantrack" / "xla-probe.json"


def probe_key(config: TrainConfig, image_shape: tuple[int, ...], num_classes: int | None) -> str:
    """The machine and the step's shape: what a probe's answer depends on."""
    import tensorflow as tf

    shape = {key: getattr(config, key) for key in STEP_SHAPE_KEYS}
    facts = {
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "tensorflow": tf.__version__,
        "devices": sorted(device.device_type for device in tf.config.list_physical_devices()),
        "image_shape": list(image_shape),
        "classes": num_classes,
        "step": shape,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()


def choose_xla(
    config: TrainConfig,
    image_shape: tuple[int, ...],
    num_classes: int | None,
    cache: Path | None = None,
    measure: Callable[[bool], float] | None = None,
    read_clocks: Callable[[], CpuReading | None] = cpu_reading,
) -> XlaChoice:
    """Decide ``train.xla: auto``: from the cache, else by timing both steps.

    A fresh probe is cached only when the machine was quiet (:data:`BUSY_SHARE`).
    """
    cache = default_cache() if cache is None else cache
    key = probe_key(config, image_shape, num_classes)
    known = _read(cache).get(key)
    if known is not None:
        try:
            return XlaChoice(**{**known, "cached": True})
        except TypeError:  # an entry this version does not know: probe again
            pass
    measure = measure or (lambda xla: step_rate(config, image_shape, num_classes, xla))
    before = read_clocks()
    plain, compiled = measure(False), measure(True)
    after = read_clocks()
    share = None
    if before is not None and after is not None:
        share = others_cpu_share(before, after, os.cpu_count() or 1)
    choice = XlaChoice(compiled > MARGIN * plain, plain, compiled, False, share)
    if not choice.busy:
        _write(cache, key, choice)
    return choice


def step_rate(
    config: TrainConfig, image_shape: tuple[int, ...], num_classes: int | None, xla: bool
) -> float:
    """Steps per second of a throwaway GAN of ``config``'s shape on random images."""
    import tensorflow as tf

    from gantrack.gan.training import build_gan

    probe = config.model_copy(update={"xla": xla, "learning_rate_decay_fraction": 0.0})
    gan = build_gan(probe, image_shape, seed=0, num_classes=num_classes)
    rng = np.random.default_rng(0)
    images = tf.constant(
        rng.uniform(-1, 1, (config.batch_size * config.critic_steps, *image_shape)), tf.float32
    )
    labels = tf.constant(rng.integers(0, num_classes or 1, (len(images), 1)), tf.int32)
    batch = (images, labels) if config.conditional else images
    step = tf.function(gan.train_step)
    for _ in range(WARMUP_STEPS):
        logs = step(batch)
    float(logs["d_loss"])
    start = time.perf_counter()
    for _ in range(TIMED_STEPS):
        logs = step(batch)
    float(logs["d_loss"])  # wait for the last step
    return TIMED_STEPS / (time.perf_counter() - start)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _read(cache: Path) -> Mapping[str, dict]:
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(cache: Path, key: str, choice: XlaChoice) -> None:
    """Add the decision to the cache; a cache that cannot be written costs a probe later."""
    from gantrack.io import save_json

    entries = dict(_read(cache))
    entries[key] = {name: value for name, value in asdict(choice).items() if name != "cached"}
    try:
        save_json(entries, cache)
    except OSError as error:
        print(f"warning: cannot write the XLA probe cache {cache} ({error}); not cached")
