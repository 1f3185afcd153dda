"""The run report page: self-contained, every section present, absent numbers explained."""

import re
from html import escape

import numpy as np
import pytest

from gantrack.metric_table import HEADLINE, metric
from gantrack.report.figures import (
    class_histogram,
    closest_pairs,
    real_images_grid,
    training_curves,
)
from gantrack.report.page import RunReport, render_page

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def evaluator_metrics(**changes):
    metrics = {
        "fid": 14.4, "inception_score": 6.3, "kid": 1.5, "precision": 0.73, "recall": 0.52,
        "classes_covered": 10, "smallest_class_share": 0.055, "data_copying_ct": 0.8,
        "classification_accuracy_score": 0.91, "fid_ci_low": 13.9, "fid_ci_high": 14.9,
        "inception_score_std": 0.15, "kid_std": 0.12, "num_images": 5000,
        "num_reference_images": 4000, "real_inception_score": 9.13, "fid_train_test": 0.11,
        "largest_class_share": 0.15, "real_data_accuracy": 0.979,
    }  # fmt: skip
    return {key: value for key, value in (metrics | changes).items() if value is not None}


def evaluator_details(**changes):
    details = {
        "network": "gantrack evaluator <trained here>",
        "reference_split": "train",
        "classes": {"samples_per_class": [500] * 10, "real_per_class": [400] * 10},
        "data_copying": {
            "data_copying_ct": 0.8,
            "cells": 20,
            "cells_used": 18,
            "nearest_train_distance_ratio": 1.02,
            "closest_pairs": [{"sample": 3, "train": 7, "distance": 0.5}],
        },
        "classification_accuracy_score": {"num_training_samples": 4000},
    }
    return details | changes


def page(metrics=None, details=None, pictures=None) -> str:
    report = RunReport(
        title="gantrack run report: mnist_5k",
        metrics={"evaluator": metrics or evaluator_metrics()},
        details={"evaluator": details or evaluator_details()},
        pictures={"samples": PNG_SIGNATURE} if pictures is None else pictures,
    )
    return render_page(report)


def test_the_page_needs_nothing_beyond_itself():
    html = page()
    assert "<script" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # no remote resource
    assert 'src="data:image/png;base64,' in html


def test_headline_numbers_stand_beside_their_yardsticks():
    html = page()
    shown = (
        "14.400 [13.900, 14.900]",
        "floor: FID(train, test) = 0.110",
        "ceiling: real images 9.130",
        "91.0%",
        "real data: 97.9%",
        "C_T = 0.80",
    )
    for text in shown:
        assert text in html, text


def test_text_from_a_run_is_escaped_not_markup():
    html = page()
    assert "&lt;trained here&gt;" in html and "<trained here>" not in html


MARKUP = '<img src=x onerror="alert(1)">'


@pytest.mark.parametrize("statistic", [None, 0.4])  # C_T undefined, and measured
def test_every_value_from_evaluation_details_is_escaped(statistic):
    copying = evaluator_details()["data_copying"] | {
        "data_copying_ct": statistic,
        "cells": MARKUP,
        "cells_used": MARKUP,
        "nearest_train_distance_ratio": MARKUP,
    }
    details = evaluator_details(
        data_copying=copying,
        classification_accuracy_score={"num_training_samples": MARKUP},
        reference_split=MARKUP,
    )
    html = page(evaluator_metrics(data_copying_ct=statistic), details)
    assert "<img src=x" not in html and 'onerror="' not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html


def test_an_absent_classification_accuracy_score_says_why():
    reason = "the generator is unconditional: its samples have no class to learn from"
    html = page(
        evaluator_metrics(classification_accuracy_score=None),
        evaluator_details(classification_accuracy_score={"absent": reason}),
    )
    assert f"No Classification Accuracy Score: {reason}." in html


@pytest.mark.parametrize(
    ("statistic", "verdict"),
    [(-7.5, "data copying"), (0.4, "no evidence of copying"), (5.0, "under-fitting")],
)
def test_the_memorisation_verdict_follows_meehan_et_al(statistic, verdict):
    copying = evaluator_details()["data_copying"] | {"data_copying_ct": statistic}
    html = page(
        evaluator_metrics(data_copying_ct=statistic), evaluator_details(data_copying=copying)
    )
    assert verdict in html


def test_a_missing_picture_is_named_not_broken():
    html = page(pictures={})
    assert "(interpolation: not available for this run)" in html
    assert "<img" not in html


def test_figures_are_png_pictures():
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (30, 28, 28, 1)).astype(np.float32)
    rows = [{"epoch": 1.0, "d_loss": 1.3, "g_loss": 0.8, "real_score": 0.6, "fake_score": 0.4}]
    figures = [
        class_histogram([5, 3, 2], [4, 4, 4]),
        training_curves(rows, [{"epoch": 1.0, "fid": 50.0, "kid": 3.0}]),
        training_curves(rows, []),  # in-training evaluation off
        closest_pairs(images, images, [{"sample": 1, "train": 2, "distance": 0.25}]),
        real_images_grid(images, np.arange(30) % 3),
        real_images_grid(images, np.full(30, -1)),  # unlabeled data
    ]
    assert all(figure.startswith(PNG_SIGNATURE) for figure in figures)


def test_the_headline_reads_labels_and_meanings_from_the_metric_table():
    html = page()
    for name in HEADLINE:
        if name == "smallest_class_share":  # shown as the yardstick of classes covered
            continue
        entry = metric(name)
        assert escape(entry.label) in html and escape(entry.meaning) in html, name
