"""The train and sample stages with a class-conditional GAN (and EMA), as processes."""

import sys

import numpy as np
from PIL import Image
from test_checkpoint import random_images, train_repo
from test_pipeline import edit_params, run


def test_conditional_stages_draw_chosen_classes_with_a_row_per_class(tmp_path, repo_root):
    repo = train_repo(repo_root, tmp_path, random_images(40))  # labels 0..9 in turn
    edit_params(
        repo,
        {
            "train": {"epochs": 1, "conditional": True, "ema_decay": 0.99},
            "sample": {"num_images": 30, "grid_rows": 2},
        },
    )
    run([sys.executable, "pipeline/train.py"], repo)
    # 10 classes: 10 rows of 2 columns of 28-pixel images with 2-pixel padding.
    assert np.asarray(Image.open(repo / "reports/train_grid.png")).shape == (302, 62)

    run([sys.executable, "pipeline/sample.py"], repo)
    with np.load(repo / "outputs/samples.npz") as samples:
        assert samples["images"].shape == (30, 28, 28, 1)
        np.testing.assert_array_equal(samples["labels"], np.arange(30) % 10)
    assert np.asarray(Image.open(repo / "reports/samples.png")).shape == (302, 62)

    edit_params(repo, {"sample": {"label": 3}})
    run([sys.executable, "pipeline/sample.py"], repo)
    with np.load(repo / "outputs/samples.npz") as samples:
        assert (samples["labels"] == 3).all()
