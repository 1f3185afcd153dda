"""The sample stage with a class-conditional generator (its training: test_checkpoint)."""

import sys

import numpy as np
from PIL import Image
from support.pipeline_repo import edit_params, run
from test_checkpoint import random_images, train_repo

from gantrack.gan.networks import build_generator


def test_sample_stage_draws_chosen_classes_with_a_row_per_class(tmp_path, repo_root):
    repo = train_repo(repo_root, tmp_path, random_images(20))
    edit_params(
        repo,
        {
            "train": {"conditional": True, "latent_dim": 8},
            "sample": {"generator": "last", "num_images": 30, "grid_rows": 2},
        },
    )
    (repo / "models/generator").mkdir(parents=True)
    build_generator(8, (28, 28, 1), num_classes=10).save(repo / "models/generator/last.keras")

    run([sys.executable, "pipeline/sample.py"], repo)
    with np.load(repo / "outputs/samples.npz") as samples:
        assert samples["images"].shape == (30, 28, 28, 1)
        np.testing.assert_array_equal(samples["labels"], np.arange(30) % 10)
    # 10 classes: 10 rows of 2 columns of 28-pixel images with 2-pixel padding.
    assert np.asarray(Image.open(repo / "reports/samples.png")).shape == (302, 62)

    edit_params(repo, {"sample": {"label": 3}})
    run([sys.executable, "pipeline/sample.py"], repo)
    with np.load(repo / "outputs/samples.npz") as samples:
        assert (samples["labels"] == 3).all()
