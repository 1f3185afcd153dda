"""The run report's pictures, rendered to PNG bytes.

Matplotlib's object interface (``Figure``), not ``pyplot``: no global figure state and no
GUI backend, so a stage can draw in any environment (a figure renders with Agg on save).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from io import BytesIO

import numpy as np
from matplotlib.figure import Figure

from gantrack.images import make_grid, png_bytes, rows_by_class, to_uint8


def figure_png(figure: Figure) -> bytes:
    """``figure`` as PNG."""
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def real_images_grid(images: np.ndarray, labels: np.ndarray, columns: int = 10) -> bytes:
    """Real images as the sample grid shows them: a row per class when labelled.

    Unlabeled data (every label -1) gives ``columns × columns`` images in their order.
    """
    if labels.min() >= 0 and labels.max() >= 1:
        num_classes = int(labels.max()) + 1
        return png_bytes(
            make_grid(rows_by_class(images, labels, num_classes, columns), num_classes)
        )
    return png_bytes(make_grid(images[: columns * columns], columns))


def class_histogram(generated_counts: Sequence[int], real_counts: Sequence[int]) -> bytes:
    """Each class's share of the samples beside its share of the real images."""
    generated = np.asarray(generated_counts, float) / max(sum(generated_counts), 1)
    real = np.asarray(real_counts, float) / max(sum(real_counts), 1)
    classes = np.arange(len(generated))
    figure = Figure(figsize=(7, 3.2))
    axes = figure.add_subplot()
    axes.bar(classes - 0.2, generated, width=0.4, label="samples (evaluator's class)")
    axes.bar(classes + 0.2, real, width=0.4, label="real images (true class)")
    axes.set(xlabel="class", ylabel="share of images", xticks=classes)
    axes.legend(loc="upper right", fontsize="small")
    axes.grid(axis="y", alpha=0.3)
    return figure_png(figure)


def training_curves(
    epoch_rows: Sequence[Mapping[str, float]], eval_rows: Sequence[Mapping[str, float]]
) -> bytes:
    """Three panels by epoch: the losses, the discriminator's scores, in-training FID/KID."""
    figure = Figure(figsize=(12, 3.4))
    losses, scores, quality = figure.subplots(1, 3)
    _plot_columns(losses, epoch_rows, ("d_loss", "g_loss"), "loss")
    _plot_columns(scores, epoch_rows, ("real_score", "fake_score"), "D(x): mean score")
    _plot_columns(quality, eval_rows, ("fid",), "FID (evaluator)")
    if eval_rows and "kid" in eval_rows[0]:
        kid_axes = quality.twinx()  # KID on its own scale, one legend for both
        _plot_columns(kid_axes, eval_rows, ("kid",), "KID", color="tab:red", grid=False)
        lines = quality.get_lines() + kid_axes.get_lines()
        kid_axes.legend(lines, [line.get_label() for line in lines], fontsize="small")
    figure.tight_layout()
    return figure_png(figure)


def _plot_columns(axes, rows, columns, ylabel, color=None, grid=True) -> None:
    present = [column for column in columns if rows and column in rows[0]]
    epochs = [float(row["epoch"]) for row in rows]
    for column in present:
        values = [float(row[column]) for row in rows]
        axes.plot(epochs, values, marker=".", label=column, color=color)
    axes.set(xlabel="epoch", ylabel=ylabel)
    if not present:
        axes.text(0.5, 0.5, "not logged", ha="center", va="center", transform=axes.transAxes)
    elif len(present) > 1:
        axes.legend(loc="upper right", fontsize="small")
    if grid:
        axes.grid(alpha=0.3)


def closest_pairs(
    samples: np.ndarray, train_images: np.ndarray, pairs: Sequence[Mapping[str, float]]
) -> bytes:
    """Each pair as a column: the sample above its nearest training image, with the distance."""
    figure = Figure(figsize=(1.3 * max(len(pairs), 1), 3.0))
    columns = max(len(pairs), 1)
    for index, pair in enumerate(pairs):
        top = figure.add_subplot(2, columns, index + 1)
        bottom = figure.add_subplot(2, columns, columns + index + 1)
        _show(top, samples[int(pair["sample"])], f"sample {int(pair['sample'])}")
        _show(bottom, train_images[int(pair["train"])], f"d = {pair['distance']:.2f}")
    return figure_png(figure)


def _show(axes, image: np.ndarray, title: str) -> None:
    pixels = to_uint8(image)
    gray = pixels.shape[-1] == 1
    axes.imshow(pixels[..., 0] if gray else pixels, cmap="gray" if gray else None)
    axes.set_title(title, fontsize="small")
    axes.set_axis_off()
