"""DVC stage `prepare`: load the named dataset, split, scale, write splits and data card."""

import os
import sys

from gantrack.config import Params
from gantrack.data.datasets import load_dataset
from gantrack.data.splits import data_card, prepare_splits, save_split
from gantrack.io import keras_home, save_json
from gantrack.stage import run_stage
from gantrack.tracking.log import log_dict, log_metrics, set_tag


def prepare(params: Params) -> None:
    data = params.data
    raw = load_dataset(
        data.dataset,
        data.source,
        keras_home(os.environ),
        image_size=data.image_size,
        channels=data.channels,
        on_unreadable=data.on_unreadable,
    )
    train, test = prepare_splits(
        raw, data.split, data.test_fraction, data.max_images_per_class, params.seed
    )
    card = data_card(data.dataset, raw, train, test, data.split, params.seed)
    save_split(params.paths.train_data, train)
    save_split(params.paths.test_data, test)
    save_json(card, params.paths.data_card)
    set_tag("gantrack.dataset_sha256", card["sha256"])
    log_dict(card, "data_card.json")
    log_metrics({"num_skipped": card["num_skipped"]}, prefix="data")
    for skipped in card["skipped"]:
        print(f"skipped unreadable {skipped['file']}: {skipped['reason']}", file=sys.stderr)
    for suffix, count in card["ignored_files"].items():
        print(f"not read: {count} file(s) ending {suffix} (not PNG/JPEG)", file=sys.stderr)
    labels = f"{card['num_classes']} classes" if card["labelled"] else "unlabeled"
    print(
        f"prepared {data.dataset}: {len(train.labels)} train, {len(test.labels)} test images "
        f"of {data.image_size}x{data.image_size}x{data.channels}, {labels}, "
        f"{card['num_skipped']} unreadable file(s) skipped"
    )


def main() -> None:
    run_stage("prepare", prepare)


if __name__ == "__main__":
    main()
