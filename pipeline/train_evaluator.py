"""DVC stage `train_evaluator`: train the Inception-style classifier that scores GANs."""

from gantrack.config import Params
from gantrack.data.splits import evaluator_num_classes, load_split
from gantrack.epoch_report import EpochReport
from gantrack.evaluation.classifier import train_evaluator
from gantrack.io import csv_sink, load_json, save_json, save_model
from gantrack.stage import progress_verbosity, run_stage
from gantrack.tracking.log import epoch_metrics_sink, log_metrics


def train(params: Params) -> None:
    paths = params.paths
    num_classes = evaluator_num_classes(load_json(paths.data_card))  # stops on unlabeled data
    train_split, test_split = load_split(paths.train_data), load_split(paths.test_data)
    report = EpochReport(
        len(train_split.labels),
        sinks=[csv_sink(paths.evaluator_log), epoch_metrics_sink("evaluator_train")],
    )
    evaluator = train_evaluator(
        train_split.images,
        train_split.labels,
        num_classes,
        params.evaluator,
        params.seed,
        callbacks=[report],
        verbose=progress_verbosity(),
    )
    test_loss, test_accuracy = evaluator.evaluate(
        test_split.images,
        test_split.labels,
        batch_size=params.feature_networks.batch_size,
        verbose=0,
    )
    summary = {
        "test_accuracy": test_accuracy,
        "test_loss": test_loss,
        "train_accuracy": report.rows[-1]["accuracy"],
        "num_train_images": len(train_split.labels),
        "num_test_images": len(test_split.labels),
    }
    save_model(evaluator, paths.evaluator)
    save_json(summary, paths.evaluator_report)
    log_metrics(summary, prefix="evaluator")
    print(f"evaluator test accuracy: {test_accuracy:.4f}")


def main() -> None:
    run_stage("train_evaluator", train)


if __name__ == "__main__":
    main()
