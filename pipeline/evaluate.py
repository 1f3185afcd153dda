"""DVC stage `evaluate`: FID and Inception Score of the samples, with their yardsticks."""

import keras

from gantrack.config import Params
from gantrack.data import load_split
from gantrack.evaluation import extract, score_generated
from gantrack.evaluator import feature_extractor
from gantrack.io import load_arrays, save_json
from gantrack.stage import run_stage
from gantrack.tracking import log_artifacts, log_metrics


def evaluate(params: Params) -> None:
    config, paths = params.evaluate, params.paths
    evaluator = keras.models.load_model(paths.evaluator, compile=False, safe_mode=True)
    extractor = feature_extractor(evaluator)
    image_sets = {
        "generated": load_arrays(paths.samples, ("images",))["images"],
        "train": load_split(paths.train_data).images,
        "test": load_split(paths.test_data).images,
    }
    outputs = {}
    for name, images in image_sets.items():
        outputs[name], images_per_second = extract(extractor, images, config.batch_size)
        print(
            f"evaluator features of {len(images)} {name} images: {images_per_second:.0f} images/s"
        )
    metrics = {
        "evaluator": score_generated(
            outputs["generated"],
            outputs[config.reference_split],
            outputs["train"],
            outputs["test"],
            config.splits,
        )
    }
    save_json(metrics, paths.metrics)
    log_metrics(metrics)
    log_artifacts(paths.metrics)
    print(metrics)


def main() -> None:
    run_stage("evaluate", evaluate)


if __name__ == "__main__":
    main()
