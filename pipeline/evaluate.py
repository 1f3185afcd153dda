"""DVC stage `evaluate`: every metric of the samples, per network, with its yardsticks."""

from gantrack.config import Params
from gantrack.distribute import evaluation_strategy
from gantrack.evaluation.feature_networks import feature_network_from_params
from gantrack.evaluation.scoring import (
    load_reference,
    reference_file,
    score_classes,
    score_generated,
)
from gantrack.io import load_arrays, save_json
from gantrack.stage import progress_verbosity, run_stage
from gantrack.tracking.runs import log_artifacts, log_metrics, set_tag


def evaluate(params: Params) -> None:
    config, paths = params.evaluate, params.paths
    samples = load_arrays(paths.samples, ("images",))["images"]
    strategy, metrics = evaluation_strategy(params.train.distribute, params.train.devices), {}
    for name in config.networks:
        network = feature_network_from_params(name, params, strategy)  # on all replicas
        generated, images_per_second = network.extract(
            samples, params.networks.batch_size, verbose=progress_verbosity()
        )
        reference = load_reference(reference_file(paths.reference_dir, name))
        metrics[name] = score_generated(generated, reference, config)
        metrics[name]["feature_images_per_second"] = images_per_second
        if name == "evaluator":
            metrics[name].update(
                score_classes(generated, reference, config.class_coverage_threshold)
            )
        set_tag(f"gantrack.network.{name}", network.label)
        print(f"{name}: FID {metrics[name]['fid']:.3f}, IS {metrics[name]['inception_score']:.3f}")
    save_json(metrics, paths.metrics)
    log_metrics(metrics)
    log_artifacts(paths.metrics)


def main() -> None:
    run_stage("evaluate", evaluate)


if __name__ == "__main__":
    main()
