"""The run report as one HTML page: numbers beside their yardsticks, then the pictures.

Self-contained on purpose: every picture is a ``data:`` URI, the style sheet is inline and
there is no script, so the file opens from disk, offline, attached to an e-mail or as an
MLflow artifact, and shows the same thing in ten years. Every value read from a run
(metrics.json, evaluation_details.json) reaches the page through :func:`_text` or
:func:`_number`, which escape it: nothing read from a run is written as markup, and a
string where a number belongs is shown, escaped, rather than breaking the page.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from gantrack import metric_table

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1250px;
       color: #222; padding: 0 1em; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { padding: 0.3em 0.8em; border-bottom: 1px solid #eee; text-align: left;
         vertical-align: top; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.pair { display: flex; gap: 2em; flex-wrap: wrap; align-items: flex-start; }
.pair figure { margin: 0; }
figcaption, .note { color: #555; font-size: 0.9em; max-width: 60em; }
img { image-rendering: pixelated; max-width: 100%; }
"""


@dataclass(frozen=True)
class RunReport:
    """What the page shows; every picture is PNG bytes (:mod:`gantrack.report.figures`).

    ``metrics`` and ``details`` are ``metrics.json`` and ``evaluation_details`` (by
    network); ``title`` names the run (its git revision, say).
    """

    title: str
    metrics: Mapping[str, Mapping[str, float]]
    details: Mapping[str, Mapping[str, object]]
    pictures: Mapping[str, bytes] = field(default_factory=dict)


def render_page(report: RunReport) -> str:
    """The whole page as a string."""
    evaluator = report.metrics["evaluator"]
    details = report.details.get("evaluator", {})
    sections = [
        f"<h1>{_text(report.title)}</h1>",
        f'<p class="note">{_text(details.get("network", "the evaluator"))}; '
        f"{_number(evaluator.get('num_images'), digits=0)} samples against "
        f"{_number(evaluator.get('num_reference_images'), digits=0)} real images of the "
        f"{_text(details.get('reference_split', '?'))} split.</p>",
        "<h2>Headline numbers and their yardsticks</h2>",
        _table(("metric", "value", "yardstick", "how to read it"), _headline_rows(evaluator)),
        _other_networks(report.metrics),
        "<h2>Samples and real images</h2>",
        '<div class="pair">'
        + _figure(report.pictures, "samples", "Samples (one row per class when conditional)")
        + _figure(report.pictures, "real", "Real training images")
        + "</div>",
        "<h2>Classes</h2>",
        _figure(
            report.pictures,
            "class_histogram",
            "Share of each class: samples as the evaluator classifies them, real images by "
            "their label. Mode collapse shows as missing or swollen bars.",
        ),
        "<h2>Training</h2>",
        _figure(
            report.pictures,
            "training_curves",
            "Losses and the discriminator's mean scores per epoch; FID/KID with the "
            "evaluator every few epochs (the run keeps the generator of the best FID).",
        ),
        "<h2>Latent interpolation</h2>",
        _figure(
            report.pictures,
            "interpolation",
            "Each row walks a great circle between two fixed latent vectors (spherical "
            "interpolation); a conditional generator holds the row's class. Smooth rows: "
            "the generator learnt a continuous map, not a lookup of training images.",
        ),
        "<h2>Memorisation</h2>",
        _memorisation(evaluator, details.get("data_copying"), report.pictures),
        "<h2>Samples as training data</h2>",
        _classification(evaluator, details.get("classification_accuracy_score")),
    ]
    body = "\n".join(section for section in sections if section)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_text(report.title)}</title><style>{STYLE}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )


# The headline table's rows: the metrics a row shows (labels, meanings, formats and
# directions from the metric table), what it stands beside, and a pointer further down.
# (classes_covered holds the class shares beside it; precision and recall share a row.)
HEADLINE_ROWS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("fid",), ""),
    (("inception_score",), ""),
    (("kid",), ""),
    (("precision", "recall"), ""),
    (("classes_covered",), ""),
    (("data_copying_ct",), "Memorisation, below"),
    (("classification_accuracy_score",), "Samples as training data, below"),
)


def _headline_rows(metrics: Mapping[str, float]) -> list[tuple[str, str, str, str]]:
    rows = []
    for names, below in HEADLINE_ROWS:
        entries = [metric_table.metric(name) for name in names]
        meaning = " / ".join(entry.meaning for entry in entries)
        better = {entry.better for entry in entries}
        if len(better) == 1 and "" not in better:
            meaning = f"{better.pop()} is better: {meaning}"
        rows.append(
            (
                " / ".join(entry.label for entry in entries),
                " / ".join(_with_uncertainty(entry, metrics) for entry in entries),
                " / ".join(_yardstick(name, metrics) for name in names),
                f"{meaning} ({below})" if below else meaning,
            )
        )
    return rows


def _with_uncertainty(entry: metric_table.Metric, metrics: Mapping[str, float]) -> str:
    """The metric's value as the table formats it, with its interval or standard deviation."""
    shown = _formatted(entry.name, metrics.get(entry.name))
    if entry.interval and all(metrics.get(bound) is not None for bound in entry.interval):
        low, high = (_formatted(entry.name, metrics[bound]) for bound in entry.interval)
        shown += f" [{low}, {high}]"
    if entry.std:
        shown += f" ± {_formatted(entry.name, metrics.get(entry.std))}"
    return shown


def _yardstick(name: str, metrics: Mapping[str, float]) -> str:
    """What metric ``name`` stands beside: this run's yardstick where it measured one, else
    the table's."""
    value = metrics.get
    on_this_run = {
        "fid": f"floor: FID(train, test) = {_number(value('fid_train_test'))}",
        "inception_score": f"ceiling: real images {_number(value('real_inception_score'))}",
        "classes_covered": f"smallest share {_percent(value('smallest_class_share'))}, "
        f"largest {_percent(value('largest_class_share'))}",
        "classification_accuracy_score": f"real data: {_percent(value('real_data_accuracy'))}",
    }
    return on_this_run.get(name, metric_table.metric(name).yardstick)


def _other_networks(metrics: Mapping[str, Mapping[str, float]]) -> str:
    others = [name for name in metrics if name != "evaluator"]
    if not others:
        return ""
    keys = metric_table.RECIPE_METRICS
    header = ("network", *(metric_table.metric(key).label for key in keys))
    rows = [(name, *(_formatted(key, metrics[name].get(key)) for key in keys)) for name in others]
    return "<h3>Inception networks</h3>" + _table(header, rows)


def _memorisation(
    metrics: Mapping[str, float], copying: Mapping[str, object] | None, pictures
) -> str:
    if not copying:
        return '<p class="note">Not measured for this run.</p>'
    statistic = copying.get("data_copying_ct")
    shown = f"C_T = {_number(statistic, digits=2)}"
    if not _is_number(statistic):
        verdict = (
            f"C_T is undefined: no cell of the {_text(copying.get('cells'))} held enough "
            "samples and held-out images."
        )
    elif statistic < -3:
        verdict = f"{shown}: the samples sit closer to training images than "
        verdict += "held-out real images do: <strong>data copying</strong>."
    elif statistic > 3:
        verdict = f"{shown}: the samples sit farther from the training "
        verdict += "images than held-out real images do (under-fitting, not copying)."
    else:
        verdict = f"{shown}: no evidence of copying."
    ratio = copying.get("nearest_train_distance_ratio")
    return (
        f"<p>{verdict}</p>"
        '<p class="note">Meehan, Chaudhuri &amp; Dasgupta (2020), "A Non-Parametric Test to '
        "Detect Data-Copying in Generative Models\": in the evaluator's feature space, each "
        "sample's distance to its nearest training image is compared with each held-out "
        "(test) image's, by a Mann-Whitney z-score per k-means cell of the training "
        f"features, averaged ({_text(copying.get('cells_used'))} of "
        f"{_text(copying.get('cells'))} cells "
        "had enough points). Below −3: copying; about 0: none. The median distance ratio "
        f"(samples / held-out) is {_number(ratio)}. FID rewards copying; this does not.</p>"
        + _figure(
            pictures,
            "closest_pairs",
            "The 8 samples closest to a training image: each sample above its nearest "
            "training image, with their distance in feature space.",
        )
    )


def _classification(metrics: Mapping[str, float], details: Mapping[str, object] | None) -> str:
    real = _percent(metrics.get("real_data_accuracy"))
    if "classification_accuracy_score" not in metrics:
        reason = (details or {}).get("absent", "not measured for this run")
        return f"<p>No Classification Accuracy Score: {_text(reason)}.</p>"
    score = _percent(metrics["classification_accuracy_score"])
    count = _text((details or {}).get("num_training_samples", "the"))
    return (
        f"<p>Classification Accuracy Score <strong>{score}</strong> against {real} for the "
        "same classifier trained on real images.</p>"
        '<p class="note">Ravuri &amp; Vinyals (2019): the evaluator\'s architecture and '
        f"recipe trained on {count} samples labelled with the class each was drawn for, "
        "tested on the real test split. The gap is what the samples lack as training data: "
        "digits that do not match their class, or too little variety within a class.</p>"
    )


def _figure(pictures: Mapping[str, bytes], name: str, caption: str) -> str:
    if name not in pictures:
        return f'<p class="note">({_text(name)}: not available for this run)</p>'
    data = base64.b64encode(pictures[name]).decode("ascii")
    return (
        f'<figure><img alt="{_text(name)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_text(caption)}</figcaption></figure>"
    )


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    head = "".join(f"<th>{_text(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{_text(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _is_number(value: object) -> bool:
    """A real number (not a bool, not a string a damaged file put there)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: object, digits: int = 3) -> str:
    """A number to ``digits`` places; "–" when absent; anything else as escaped text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}" if _is_number(value) else _text(value)


def _formatted(name: str, value: object) -> str:
    """``value`` of metric ``name`` in the table's format: a percentage or ``digits`` places."""
    entry = metric_table.metric(name)
    return _percent(value) if entry.format == "percent" else _number(value, entry.digits)


def _percent(value: object) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.1f}%" if _is_number(value) else _text(value)


def _text(value: object) -> str:
    return html.escape(str(value))
