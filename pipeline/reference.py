"""DVC stage `reference@<network>`: one network's statistics of the real data, computed once.

Features and class probabilities of the reference split, their mean and covariance, and
FID(train, test) (the floor). Scoring a new generator reads this file instead of running
the network on real images again.
"""

import sys

from gantrack.config import Params
from gantrack.data.splits import load_split
from gantrack.distribute import evaluation_strategy
from gantrack.evaluation.feature_networks.registry import feature_network_from_params
from gantrack.evaluation.reference import build_reference, reference_file, save_reference
from gantrack.stage import progress_verbosity, run_stage
from gantrack.tracking.log import log_metrics


def reference(params: Params, network_name: str) -> None:
    paths = params.paths
    strategy = evaluation_strategy(params.train.distribute, params.train.devices)
    network = feature_network_from_params(network_name, params, strategy)
    splits = {"train": load_split(paths.train_data), "test": load_split(paths.test_data)}
    outputs = {}
    for split_name, split in splits.items():
        outputs[split_name], images_per_second = network.extract(
            split.images, params.feature_networks.batch_size, verbose=progress_verbosity()
        )
        print(f"{network_name}: {split_name} split, {images_per_second:.0f} images/s")
    chosen = params.evaluate.reference_split
    result = build_reference(network_name, network.label, chosen, outputs, splits[chosen].labels)
    save_reference(reference_file(paths.reference_dir, network_name), result)
    summary = {"fid_train_test": result.fid_train_test, "images_per_second": images_per_second}
    log_metrics({f"reference.{network_name}": summary})


def main() -> None:
    network_name = sys.argv[1]
    run_stage(f"reference@{network_name}", lambda params: reference(params, network_name))


if __name__ == "__main__":
    main()
