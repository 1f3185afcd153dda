"""`dvc repro prepare` on a user's own image folder, in a temporary copy of the repository."""

import json
from pathlib import Path

import numpy as np
from PIL import Image
from support.pipeline_repo import BIN, copy_project, edit_params, init_and_repro, mlflow_runs, run


def write_image_folder(folder: Path) -> None:
    """Two classes of 40 x 40 RGB PNGs (resized to 32 by prepare) and one truncated PNG."""
    rng = np.random.default_rng(0)
    for class_name in ("circles", "squares"):
        (folder / class_name).mkdir(parents=True)
        for index in range(4):
            pixels = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / class_name / f"{index}.png")
    good = (folder / "squares" / "0.png").read_bytes()
    (folder / "squares" / "broken.png").write_bytes(good[: len(good) // 2])


def test_prepare_on_an_image_folder_skips_and_stops(tmp_path, repo_root):
    repo = tmp_path / "repo"
    copy_project(repo_root, repo)
    write_image_folder(tmp_path / "photos")
    own_data = {
        "dataset": "image_folder",
        "source": str(tmp_path / "photos"),
        "image_size": 32,
        "channels": 3,
        "on_unreadable": "skip",
        "test_fraction": 0.25,
    }
    edit_params(repo, {"data": own_data})
    result = init_and_repro(repo, "prepare")
    assert "skipped unreadable squares/broken.png" in result.stderr

    card_path = repo / "reports" / "data_card.json"
    card = json.loads(card_path.read_text())
    assert card["dataset"] == "image_folder" and card["source_kind"] == "image_folder"
    assert (card["image_size"], card["channels"]) == (32, 3)
    assert card["labelled"] and card["class_names"] == ["circles", "squares"]
    assert card["num_skipped"] == 1 and card["skipped"][0]["file"] == "squares/broken.png"
    assert card["train"]["images_per_class"] == {"circles": 3, "squares": 3}
    assert card["train"]["shape"] == [6, 32, 32, 3] and card["test"]["num_images"] == 2
    with np.load(repo / "data" / "prepared" / "train.npz") as train:
        assert train["images"].shape == (6, 32, 32, 3)
    (run_info,) = mlflow_runs(repo)
    assert run_info.data.metrics["data.num_skipped"] == 1.0

    # stop: the stage fails naming the file. DVC removes a stage's outputs before running
    # it; the failed stage must leave no file behind, whole or partial.
    edit_params(repo, {"data": {"on_unreadable": "stop"}})
    failed = run([str(BIN / "dvc"), "repro", "prepare"], repo, check=False)
    assert failed.returncode != 0
    output = failed.stdout + failed.stderr
    assert "squares/broken.png: cannot be read as an image" in output
    assert "data.on_unreadable: skip" in output and "Traceback" not in output
    folders = [repo / "data" / "prepared", repo / "reports"]
    # DVC's own .gitignore files (also in reports/runs, of the cached run record); no
    # output, no temporary file
    left = {path.name for folder in folders for path in folder.rglob("*") if path.is_file()}
    assert left == {".gitignore"}
