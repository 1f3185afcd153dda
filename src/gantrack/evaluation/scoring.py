"""Scoring generated images with a feature network: network outputs in, metrics dict out.

Real-data statistics (a :class:`~gantrack.evaluation.reference.Reference`) are computed
once per (dataset, network) by the ``reference`` stage and cached, so scoring a new
generator never re-runs the network on real images. This is the full evaluation of the
``evaluate`` stage; training's cheap FID and KID are :mod:`gantrack.evaluation.in_training`.
Every number comes with the number of images behind it; what describes the scoring (the
network's label, the reference split, class histograms, the closest sample/training
pairs) is returned apart, for ``evaluation_details``: not a metric.
"""

from __future__ import annotations

import numpy as np

from gantrack.config import EvaluateConfig, EvaluatorConfig
from gantrack.evaluation.classifier import classification_accuracy_score
from gantrack.evaluation.feature_networks.base import NetworkOutputs
from gantrack.evaluation.metrics.classes import class_statistics
from gantrack.evaluation.metrics.frechet import (
    frechet_distance,
    frechet_distance_bootstrap,
    gaussian_statistics,
)
from gantrack.evaluation.metrics.inception_score import inception_score
from gantrack.evaluation.metrics.kid import kernel_inception_distance
from gantrack.evaluation.metrics.manifold import density_coverage, precision_recall
from gantrack.evaluation.metrics.memorisation import data_copying
from gantrack.evaluation.reference import Reference
from gantrack.metric_table import HEADLINE


def headline_first(metrics: dict[str, float]) -> dict[str, float]:
    """``metrics`` with the headline (:data:`gantrack.metric_table.HEADLINE`, those present)
    first, in that order: `dvc exp show` and `dvc metrics show` list a metrics file's keys
    in its order. The rest (intervals, yardsticks, counts) follow in the order computed."""
    leading = {name: metrics[name] for name in HEADLINE if name in metrics}
    return leading | {name: value for name, value in metrics.items() if name not in leading}


def score_generated(
    generated: NetworkOutputs, reference: Reference, config: EvaluateConfig
) -> dict[str, float | None]:
    """Every metric of generated images against one network's reference: numbers only.

    The network's label and the reference split are the run's description, not metrics
    (:func:`describe_reference`): strings would fill ``dvc exp show`` columns.

    ``fid`` with a bootstrap interval (``fid_ci_low``/``fid_ci_high``; resampling the
    generated features), ``inception_score`` (``splits`` parts), ``kid`` (unbiased MMD²,
    cubic kernel), ``precision``/``recall`` (k-NN manifolds) and ``density``/``coverage``,
    beside the yardsticks (the real images' own IS: the ceiling; FID(train, test): the
    floor) and the image counts.
    """
    fid = frechet_distance(
        *gaussian_statistics(generated.features), reference.mean, reference.covariance
    )
    fid_low = fid_high = None  # JSON null: no interval asked for
    if config.fid_bootstrap_resamples > 0:
        fid_low, fid_high = frechet_distance_bootstrap(
            reference.mean,
            reference.covariance,
            generated.features,
            config.fid_bootstrap_resamples,
            config.seed,
            config.fid_confidence,
        )
    is_mean, is_std = inception_score(generated.probabilities, config.splits)
    real_mean, real_std = inception_score(reference.probabilities, config.splits)
    kid, kid_std = kernel_inception_distance(
        reference.features,
        generated.features,
        config.kid_subsets,
        config.kid_subset_size,
        config.seed,
    )
    precision, recall = precision_recall(
        reference.features, generated.features, config.precision_recall_k
    )
    density, coverage = density_coverage(
        reference.features, generated.features, config.density_coverage_k
    )
    return {
        "fid": fid,
        "fid_ci_low": fid_low,
        "fid_ci_high": fid_high,
        "inception_score": is_mean,
        "inception_score_std": is_std,
        "kid": kid,
        "kid_std": kid_std,
        "precision": precision,
        "recall": recall,
        "density": density,
        "coverage": coverage,
        "num_images": len(generated),
        "num_reference_images": len(reference),
        "real_inception_score": real_mean,
        "real_inception_score_std": real_std,
        "fid_train_test": reference.fid_train_test,
    }


def describe_reference(reference: Reference) -> dict[str, str]:
    """What a network's numbers were measured against, in words: its label and split (the
    image count is a metric: ``num_reference_images``)."""
    return {"network": reference.label, "reference_split": reference.split}


def score_classes(
    generated: NetworkOutputs, reference: Reference, threshold: float
) -> tuple[dict[str, float], dict[str, list[int]]]:
    """Mode collapse as the dataset's own classifier sees it (evaluator only).

    Returns the metrics and the histograms behind them (samples per class, generated and
    real): per-class counts are details, not metrics.
    """
    num_classes = reference.probabilities.shape[1]
    statistics = dict(
        class_statistics(generated.probabilities, reference.labels, num_classes, threshold)
    )
    histograms = {
        "samples_per_class": statistics.pop("samples_per_class"),
        "real_per_class": np.bincount(reference.labels, minlength=num_classes).tolist(),
    }
    return statistics, histograms


def score_data_copying(
    generated: NetworkOutputs, reference: Reference, num_cells: int, seed: int
) -> tuple[dict[str, float], dict[str, object]]:
    """Meehan et al.'s data-copying statistic C_T (:mod:`..metrics.memorisation`).

    Training images are the prepared train split and held-out ones the test split,
    whichever split the reference scores against. Returns the metric (absent when no cell
    holds enough samples: C_T is then undefined) and the details behind it.
    """
    result = data_copying(
        reference.split_features("train"),
        reference.split_features("test"),
        generated.features,
        num_cells=num_cells,
        seed=seed,
    )
    metrics = {}
    if np.isfinite(result["data_copying_ct"]):
        metrics["data_copying_ct"] = result["data_copying_ct"]
    details = {
        "data_copying_ct": result["data_copying_ct"] if metrics else None,
        "cells": num_cells,
        "cells_used": result["cells_used"],
        "nearest_train_distance_ratio": result["nearest_train_distance_ratio"],
        "closest_pairs": [
            {"sample": int(sample), "train": int(train), "distance": float(distance)}
            for sample, train, distance in result["closest_pairs"]
        ],
    }
    return metrics, details


def score_as_training_data(
    samples: dict[str, np.ndarray],
    test_images: np.ndarray,
    test_labels: np.ndarray,
    evaluator_report: dict[str, float],
    config: EvaluatorConfig,
    seed: int,
) -> tuple[dict[str, float], dict[str, object]]:
    """The Classification Accuracy Score beside the real-data accuracy (evaluator only).

    ``samples`` are the sample stage's arrays: ``labels`` (the class each image was drawn
    for) exist only for a conditional generator. The classifier trains on as many samples
    as the evaluator had real training images (``evaluator_report``), so the two
    accuracies differ only in the data. Without labels of at least two classes the score
    is absent and the details say why.
    """
    metrics = {"real_data_accuracy": float(evaluator_report["test_accuracy"])}
    labels = samples.get("labels")
    reason = None
    if labels is None:
        reason = "the generator is unconditional: its samples have no class to learn from"
    elif len(np.unique(labels)) < 2:
        reason = f"the samples are all of class {int(labels[0])} (sample.label is set)"
    if reason is not None:
        return metrics, {"absent": reason}
    count = min(len(labels), int(evaluator_report["num_train_images"]))
    score = classification_accuracy_score(
        samples["images"][:count],
        labels[:count],
        test_images,
        test_labels,
        # Every class either split holds: samples drawn without the top class would
        # otherwise leave the test split's labels outside the classifier's outputs.
        num_classes=int(max(labels.max(), test_labels.max())) + 1,
        config=config,
        seed=seed,
    )
    return {"classification_accuracy_score": score} | metrics, {"num_training_samples": count}
