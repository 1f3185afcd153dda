"""DVC stage `report`: the run on one self-contained page, `reports/report.html`.

Reads what the other stages wrote (metrics and their details, the training logs, the
pictures, the samples and the training images behind the memorisation pairs), draws the
figures and writes the page; it is logged to the MLflow run too.
"""

from gantrack.config import Params
from gantrack.data.splits import load_split
from gantrack.io import load_arrays, load_csv, load_json, save_text
from gantrack.report.figures import (
    class_histogram,
    closest_pairs,
    real_images_grid,
    training_curves,
)
from gantrack.report.page import RunReport, render_page
from gantrack.stage import run_stage
from gantrack.tracking.log import log_artifacts


def report(params: Params) -> None:
    paths = params.paths
    details = load_json(paths.evaluation_details)
    samples = load_arrays(paths.samples, ("images",))["images"]
    train = load_split(paths.train_data)
    evaluator_details = details["evaluator"]
    pictures = {
        "samples": paths.sample_grid.read_bytes(),
        "real": real_images_grid(train.images, train.labels),
        "interpolation": paths.interpolation.read_bytes(),
    }
    # No in-training evaluation (train.eval_every: 0) leaves no evaluation log.
    evaluations = load_csv(paths.train_eval_log) if paths.train_eval_log.is_file() else []
    pictures["training_curves"] = training_curves(load_csv(paths.train_log), evaluations)
    classes = evaluator_details.get("classes")
    if classes:
        pictures["class_histogram"] = class_histogram(
            classes["samples_per_class"], classes["real_per_class"]
        )
    pairs = evaluator_details.get("data_copying", {}).get("closest_pairs")
    if pairs:
        pictures["closest_pairs"] = closest_pairs(samples, train.images, pairs)
    page = RunReport(
        title=f"gantrack run report: {params.data.dataset}",
        metrics=load_json(paths.metrics),
        details=details,
        pictures=pictures,
    )
    save_text(render_page(page), paths.report)
    log_artifacts(paths.report)
    print(f"wrote {paths.report}: open it in a browser")


def main() -> None:
    run_stage("report", report)


if __name__ == "__main__":
    main()
