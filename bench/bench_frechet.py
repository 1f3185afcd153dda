"""Benchmark of gantrack's metric math at Inception's feature size (d = 2048).

Times ``frechet_distance`` (symmetric eigen-decompositions) against pytorch-fid's formula
through ``scipy.linalg.sqrtm``, reporting the median of several repeats, the speed-up and
the relative difference of the two values; then KID and the k-NN metrics. For the k-NN
metrics, peak memory is what NumPy allocated (tracemalloc) during one extra, untimed call,
beyond the inputs: it shows the blocked distances keep memory bounded.

Not part of the test suite. Run from the repository root:

    python bench/bench_frechet.py            # defaults: the paper-sized settings
    python bench/bench_frechet.py --help
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
from scipy import linalg

from gantrack.evaluation.metrics.frechet import frechet_distance, gaussian_statistics
from gantrack.evaluation.metrics.kid import kernel_inception_distance
from gantrack.evaluation.metrics.manifold import density_coverage, precision_recall


def frechet_with_sqrtm(mu1, sigma1, mu2, sigma2) -> float:
    """pytorch-fid's calculate_frechet_distance (without its eps retry): the baseline."""
    covariance_mean = np.real(linalg.sqrtm(sigma1 @ sigma2))
    difference = mu1 - mu2
    return float(difference @ difference + np.trace(sigma1 + sigma2 - 2.0 * covariance_mean))


def correlated_features(
    rng: np.random.Generator, mixing: np.ndarray, samples: int, scale: float, shift: float
) -> np.ndarray:
    """``(samples, d)`` Gaussian features with covariance scale² · mixingᵀ mixing, mean shift."""
    return scale * rng.standard_normal((samples, len(mixing))) @ mixing + shift


def median_seconds(function: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Median wall-clock seconds of ``repeats`` calls, and the last call's result."""
    durations = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations), result


def peak_mebibytes(function: Callable[[], object]) -> float:
    """Peak memory NumPy allocates during one call, in MiB."""
    tracemalloc.start()
    function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dim", type=int, default=2048, help="feature dimension d")
    parser.add_argument("--samples", type=int, default=5000, help="samples per covariance")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per row")
    parser.add_argument("--kid-subsets", type=int, default=100)
    parser.add_argument("--kid-subset-size", type=int, default=1000)
    parser.add_argument("--knn-samples", type=int, default=5000, help="N = M for the k-NN rows")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def benchmark_cases(arguments: argparse.Namespace) -> list[tuple[str, str, Callable, Callable]]:
    """(name, setting, call, describe result) for each row of the table."""
    rng = np.random.default_rng(arguments.seed)
    dim = arguments.dim
    # Full rank: I + a random matrix with entries of variance 1/d. The "generator" is the
    # real distribution shifted by 0.05 in every dimension (a 10% wider copy already puts
    # every fake outside the real k-NN balls at d = 2048: precision 0, density 0).
    mixing = np.eye(dim) + rng.standard_normal((dim, dim)) / np.sqrt(dim)
    real = correlated_features(rng, mixing, arguments.samples, scale=1.0, shift=0.0)
    generated = correlated_features(rng, mixing, arguments.samples, scale=1.0, shift=0.05)
    statistics_pair = (*gaussian_statistics(real), *gaussian_statistics(generated))
    knn_real, knn_generated = real[: arguments.knn_samples], generated[: arguments.knn_samples]
    fid_setting = f"d={dim}, N={arguments.samples}"
    kid_setting = f"{arguments.kid_subsets} x {arguments.kid_subset_size}, d={dim}"
    knn_setting = f"N=M={len(knn_real)}, d={dim}"
    return [
        ("frechet_distance (eigh)", fid_setting,
         lambda: frechet_distance(*statistics_pair), lambda fid: f"FID={fid:.6f}"),
        ("FID via scipy sqrtm", fid_setting,
         lambda: frechet_with_sqrtm(*statistics_pair), lambda fid: f"FID={fid:.6f}"),
        ("kernel_inception_distance", kid_setting,
         lambda: kernel_inception_distance(real, generated, arguments.kid_subsets,
                                           arguments.kid_subset_size, arguments.seed),
         lambda kid: f"KID={kid[0]:.3e} ± {kid[1]:.1e}"),
        ("precision_recall k=3", knn_setting,
         lambda: precision_recall(knn_real, knn_generated, k=3),
         lambda pr: f"P={pr[0]:.3f} R={pr[1]:.3f}"),
        ("density_coverage k=5", knn_setting,
         lambda: density_coverage(knn_real, knn_generated, k=5),
         lambda dc: f"D={dc[0]:.3f} C={dc[1]:.3f}"),
    ]  # fmt: skip


def main() -> None:
    arguments = parse_arguments()
    print(f"median of {arguments.repeats} calls each, seed {arguments.seed}")
    print(f"{'function':<27} {'setting':<24} {'median s':>9} {'peak MiB':>9}  result")
    timings = {}
    for name, setting, call, describe in benchmark_cases(arguments):
        seconds, result = median_seconds(call, arguments.repeats)
        timings[name] = (seconds, result)
        peak = peak_mebibytes(call) if name.startswith(("precision", "density")) else np.nan
        print(f"{name:<27} {setting:<24} {seconds:>9.3f} {peak:>9.0f}  {describe(result)}")
    (eigen_seconds, eigen_value), (sqrtm_seconds, sqrtm_value) = (
        timings["frechet_distance (eigh)"],
        timings["FID via scipy sqrtm"],
    )
    relative_difference = abs(eigen_value - sqrtm_value) / abs(sqrtm_value)
    print(
        f"sqrtm / eigh time ratio: {sqrtm_seconds / eigen_seconds:.2f}x; "
        f"relative difference of the FID values: {relative_difference:.2e}"
    )


if __name__ == "__main__":
    main()
