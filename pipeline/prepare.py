"""DVC stage `prepare`: load the named dataset, split, scale, write splits and data card."""

import os

import mlflow

from gantrack.config import Params
from gantrack.data import data_card, prepare_splits, save_split
from gantrack.datasets import load_dataset
from gantrack.io import save_json
from gantrack.stage import keras_home, run_stage


def prepare(params: Params) -> None:
    data = params.data
    raw = load_dataset(data.dataset, data.source, keras_home(os.environ))
    train, test = prepare_splits(
        raw, data.split, data.test_fraction, data.max_images_per_class, params.seed
    )
    card = data_card(data.dataset, raw, train, test, data.split, params.seed)
    save_split(params.paths.train_data, train)
    save_split(params.paths.test_data, test)
    save_json(card, params.paths.data_card)
    mlflow.set_tag("gantrack.dataset_sha256", card["sha256"])
    mlflow.log_dict(card, "data_card.json")
    print(f"prepared {data.dataset}: {len(train.labels)} train, {len(test.labels)} test images")


def main() -> None:
    run_stage("prepare", prepare)


if __name__ == "__main__":
    main()
