"""The one table of gantrack's metrics: name, direction, headline order, label, format.

Every place that ranks, gates, shows or documents a metric reads it from here: the order
of ``metrics.json`` (and so of ``dvc exp show``), ``compare``'s ranking direction, the
gate's rules, the run report's headline, the recipe study's statistics and the docs'
metrics reference. A metric is named as in a network's block of ``metrics.json``
(``fid``); dotted names (``evaluator.fid``, ``eval.fid``) are looked up by their last part.

Pure data: no imports beyond the standard library, so any module may read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["min", "max"]
Format = Literal["number", "percent", "count", "seconds"]


@dataclass(frozen=True)
class Metric:
    """One metric: how to read it and how to show it.

    ``direction`` is ``"min"`` when lower is better, ``"max"`` when higher is, ``None`` for
    a number with no better side (a count of images, a standard deviation).
    """

    name: str
    label: str
    direction: Direction | None
    format: Format = "number"
    digits: int = 3
    meaning: str = ""  # one line: what a reader concludes from it
    formula: str = ""  # Markdown, for the docs' metrics reference
    citation: str = ""
    yardstick: str = ""  # what to hold it against
    caveats: str = ""
    interval: tuple[str, str] | None = None  # the metrics holding its (low, high) interval
    std: str | None = None  # the metric holding its standard deviation

    @property
    def better(self) -> str:
        """``"lower"``, ``"higher"`` or ``""``: the words for ``direction``."""
        return {"min": "lower", "max": "higher", None: ""}[self.direction]


METRICS: tuple[Metric, ...] = (
    # -- the headline, in the order of metrics.json, dvc exp show and every report --------
    Metric(
        "fid",
        "FID",
        "min",
        meaning="distance between the real and generated feature distributions",
        formula=r"‖μ_r − μ_g‖² + Tr(Σ_r + Σ_g − 2 (Σ_r Σ_g)^½) of Gaussians fitted to features",
        citation="Heusel et al. 2017, GANs Trained by a Two Time-Scale Update Rule Converge "
        "to a Local Nash Equilibrium",
        yardstick="FID(train, test): two samples of real data, the floor at these sizes",
        caveats="Biased upwards at small sample counts: compare FIDs at equal counts only. "
        "Its scale is set by the feature network: the evaluator's numbers are not "
        "InceptionV3's. Rewards memorised training images.",
        interval=("fid_ci_low", "fid_ci_high"),
    ),
    Metric(
        "inception_score",
        "Inception Score",
        "max",
        meaning="confident and varied class predictions on the samples",
        formula=r"exp(E_x KL(p(y|x) ‖ p(y))), mean over splits",
        citation="Salimans et al. 2016, Improved Techniques for Training GANs",
        yardstick="the real images' score: the ceiling",
        caveats="Blind to the real data except through the classifier; high for a generator "
        "that draws one perfect image per class.",
        std="inception_score_std",
    ),
    Metric(
        "kid",
        "KID",
        "min",
        meaning="like FID, with no bias from the sample count",
        formula=r"unbiased MMD² with the kernel k(x, y) = (xᵀy / d + 1)³, mean over subsets",
        citation="Bińkowski et al. 2018, Demystifying MMD GANs",
        yardstick="0",
        caveats="Its spread over seeds is wider than FID's.",
        std="kid_std",
    ),
    Metric(
        "precision",
        "precision",
        "max",
        meaning="fidelity: the share of samples on the real data's manifold",
        formula="share of samples inside the union of real k-nearest-neighbour balls",
        citation="Kynkäänniemi et al. 2019, Improved Precision and Recall Metric for "
        "Assessing Generative Models",
        yardstick="1",
        caveats="Outliers in the real data inflate the balls.",
    ),
    Metric(
        "recall",
        "recall",
        "max",
        meaning="diversity: the share of real images the samples cover",
        formula="share of real images inside the union of sample k-nearest-neighbour balls",
        citation="Kynkäänniemi et al. 2019",
        yardstick="1",
        caveats="Falls first under mode collapse.",
    ),
    Metric(
        "classes_covered",
        "classes covered",
        "max",
        format="count",
        digits=0,
        meaning="classes holding at least evaluate.class_coverage_threshold of the samples",
        formula="count of classes c with share(c) ≥ threshold, classes by the evaluator",
        yardstick="the dataset's class count",
        caveats="Evaluator only: the one network that knows the dataset's classes.",
    ),
    Metric(
        "smallest_class_share",
        "smallest class share",
        "max",
        format="percent",
        meaning="the rarest class's share of the samples (1/classes when balanced)",
        yardstick="1 / number of classes",
    ),
    Metric(
        "data_copying_ct",
        "data copying C_T",
        None,
        digits=2,
        meaning="below −3: samples copy training images; about 0: no evidence of copying",
        formula="Mann-Whitney z of nearest-training distances, samples against held-out "
        "images, per k-means cell, weighted by the cells' test share",
        citation="Meehan, Chaudhuri & Dasgupta 2020, A Non-Parametric Test to Detect "
        "Data-Copying in Generative Models",
        yardstick="0 (no copying); below −3 copying",
        caveats="Two-sided: large positive values mean under-fitting, not better samples.",
    ),
    Metric(
        "classification_accuracy_score",
        "classification accuracy score",
        "max",
        format="percent",
        meaning="a classifier trained on samples, tested on real images",
        formula="test accuracy of the evaluator's architecture trained on labelled samples",
        citation="Ravuri & Vinyals 2019, Classification Accuracy Score for Conditional "
        "Generative Models",
        yardstick="the same classifier trained on real images (real_data_accuracy)",
        caveats="Conditional generators only (labels come from the class drawn).",
    ),
    # -- intervals, yardsticks and details ---------------------------------------------
    Metric("fid_ci_low", "FID interval, low", "min", meaning="bootstrap interval of FID"),
    Metric("fid_ci_high", "FID interval, high", "min", meaning="bootstrap interval of FID"),
    Metric("inception_score_std", "Inception Score std", None),
    Metric("kid_std", "KID std", None),
    Metric(
        "density",
        "density",
        "max",
        citation="Naeem et al. 2020, Reliable Fidelity and Diversity Metrics",
        meaning="fidelity, robust to outliers (can exceed 1)",
    ),
    Metric("coverage", "coverage", "max", citation="Naeem et al. 2020", meaning="diversity"),
    Metric("largest_class_share", "largest class share", "min", format="percent"),
    Metric("class_kl", "class KL", "min", meaning="KL of the sample's class histogram to real"),
    Metric("real_inception_score", "real Inception Score", "max"),
    Metric("real_inception_score_std", "real Inception Score std", None),
    Metric("fid_train_test", "FID(train, test)", "min", meaning="the FID floor"),
    Metric("real_data_accuracy", "real-data accuracy", "max", format="percent"),
    Metric("num_images", "samples scored", None, format="count", digits=0),
    Metric("num_reference_images", "real images scored", None, format="count", digits=0),
    Metric("feature_images_per_second", "feature images/s", "max", digits=0),
    # -- training ------------------------------------------------------------------------
    Metric("best_fid", "best in-training FID", "min"),
    Metric("best_epoch", "best epoch", None, format="count", digits=0),
    Metric("training_seconds", "training time", "min", format="seconds", digits=0),
    Metric("training_images_per_second", "training images/s", "max", digits=0),
    Metric("d_loss", "discriminator loss", None),
    Metric("g_loss", "generator loss", None),
    Metric("accuracy", "accuracy", "max", format="percent"),
    Metric("test_accuracy", "test accuracy", "max", format="percent"),
    Metric("loss", "loss", "min"),
    Metric("test_loss", "test loss", "min"),
)
BY_NAME: dict[str, Metric] = {metric.name: metric for metric in METRICS}

# The answer first: what leads metrics.json, `dvc exp show` and every table.
HEADLINE: tuple[str, ...] = (
    "fid",
    "inception_score",
    "kid",
    "precision",
    "recall",
    "classes_covered",
    "smallest_class_share",
    "data_copying_ct",
    "classification_accuracy_score",
)
# What a recipe is judged on over its seeds (the study, recipe runs, the gate's report).
RECIPE_METRICS: tuple[str, ...] = ("fid", "inception_score", "kid", "precision", "recall")


def metric(name: str) -> Metric:
    """The metric named ``name`` or by its last dotted part (``evaluator.fid`` -> fid).

    Raises ``KeyError`` naming the known metrics for an unknown one.
    """
    found = BY_NAME.get(name) or BY_NAME.get(name.rsplit(".", 1)[-1])
    if found is None:
        raise KeyError(f"{name!r} is not in the metric table (known: {', '.join(BY_NAME)})")
    return found


def direction(name: str) -> Direction:
    """``"min"`` if lower values of ``name`` are better, ``"max"`` if higher are.

    Raises ``ValueError`` for a metric with no better side or not in the table.
    """
    try:
        found = metric(name)
    except KeyError as error:
        raise ValueError(error.args[0]) from None
    if found.direction is None:
        raise ValueError(f"{name!r} has no better side (it is {found.meaning or 'a detail'})")
    return found.direction
