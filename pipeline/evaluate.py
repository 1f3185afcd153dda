"""DVC stage `evaluate`: every metric of the samples, per network, with its yardsticks.

`metrics.json` holds numbers only, the headline ones first (what `dvc exp show` leads
with); `evaluation_details` holds what describes them: network labels, class histograms,
the closest sample/training pairs, and why a metric is absent.
"""

from gantrack.config import Params
from gantrack.data.splits import load_split
from gantrack.distribute import evaluation_strategy
from gantrack.evaluation.feature_networks.registry import feature_network_from_params
from gantrack.evaluation.reference import load_reference, reference_file
from gantrack.evaluation.scoring import (
    describe_reference,
    headline_first,
    score_as_training_data,
    score_classes,
    score_data_copying,
    score_generated,
)
from gantrack.io import load_arrays, load_json, save_json
from gantrack.stage import progress_verbosity, run_stage
from gantrack.tracking.log import log_artifacts, log_metrics, set_tag


def evaluate(params: Params) -> None:
    config, paths = params.evaluate, params.paths
    samples = load_arrays(paths.samples, ("images",), optional=("labels",))
    strategy = evaluation_strategy(params.train.distribute, params.train.devices)
    metrics, details = {}, {}
    for name in config.networks:
        network = feature_network_from_params(name, params, strategy)  # on all replicas
        generated, images_per_second = network.extract(
            samples["images"], params.feature_networks.batch_size, verbose=progress_verbosity()
        )
        reference = load_reference(reference_file(paths.reference_dir, name))
        scores = score_generated(generated, reference, config)
        scores["feature_images_per_second"] = images_per_second
        details[name] = describe_reference(reference)
        if name == "evaluator":
            classes, details[name]["classes"] = score_classes(
                generated, reference, config.class_coverage_threshold
            )
            copying, details[name]["data_copying"] = score_data_copying(
                generated, reference, config.data_copying_cells, config.seed
            )
            test = load_split(paths.test_data)
            as_data, details[name]["classification_accuracy_score"] = score_as_training_data(
                samples,
                test.images,
                test.labels,
                load_json(paths.evaluator_report),
                params.evaluator,
                params.seed,
            )
            scores |= classes | copying | as_data
        metrics[name] = headline_first(scores)
        set_tag(f"gantrack.network.{name}", network.label)
        print(f"{name}: FID {scores['fid']:.3f}, IS {scores['inception_score']:.3f}")
    save_json(metrics, paths.metrics)
    save_json(details, paths.evaluation_details)
    log_metrics(metrics)
    log_artifacts(paths.metrics, paths.evaluation_details)


def main() -> None:
    run_stage("evaluate", evaluate)


if __name__ == "__main__":
    main()
