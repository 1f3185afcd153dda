import keras
import numpy as np
import pytest

from gantrack.epoch_report import EpochReport
from gantrack.gan.callbacks import GridSnapshot, PeriodicEvaluation
from gantrack.gan.networks import build_generator


class FakeTraining:
    """Drives callbacks through the hooks keras.Model.fit would call."""

    def __init__(self, callbacks, epochs):
        self.callbacks = keras.callbacks.CallbackList(
            callbacks, model=keras.Sequential(), epochs=epochs
        )

    def run(self, epochs):
        for epoch in range(epochs):
            self.callbacks.on_epoch_begin(epoch)
            self.callbacks.on_epoch_end(epoch, {"d_loss": 1.0 + epoch})


def test_epoch_report_adds_throughput_and_numbers_epochs_from_one():
    rows = []
    FakeTraining([EpochReport(64, sinks=[lambda epoch, row: rows.append((epoch, row))])], 2).run(2)
    assert [epoch for epoch, _ in rows] == [1, 2]
    assert rows[1][1]["d_loss"] == 2.0 and rows[1][1]["images_per_second"] > 0


def test_grid_snapshot_uses_fixed_latent_vectors():
    generator = build_generator(latent_dim=4)
    grids = []
    latent = np.zeros((4, 4), np.float32)
    FakeTraining([GridSnapshot(generator, latent, 2, [lambda e, g: grids.append(g)])], 2).run(2)
    assert len(grids) == 2 and grids[0].shape == (62, 62)
    np.testing.assert_array_equal(grids[0], grids[1])  # same weights, same latents


def test_grid_snapshot_replays_the_resumed_epochs_grid():
    generator = build_generator(latent_dim=4)
    sent = []
    grids = GridSnapshot(generator, np.zeros((4, 4), np.float32), 2, [lambda *a: sent.append(a)])
    grids.replay(5)  # resumed after epoch 5: the new run gets that epoch's grid
    assert [epoch for epoch, _ in sent] == [5] and grids.last_grid is sent[0][1]


def test_periodic_evaluation_scores_every_n_and_last_epoch_and_keeps_best():
    generator = build_generator(latent_dim=4)
    fids = iter([30.0, 10.0, 20.0])
    rows, best = [], []
    evaluation = PeriodicEvaluation(
        generator,
        np.zeros((3, 4), np.float32),
        score=lambda images: {"fid": next(fids), "kid": float(images.shape[0])},
        every=2,
        sinks=[lambda epoch, row: rows.append(row)],
        on_best=lambda epoch, model: best.append(epoch),
    )
    FakeTraining([evaluation], epochs=5).run(5)
    assert [row["epoch"] for row in rows] == [2, 4, 5]  # every 2nd, and the last
    assert rows[0]["kid"] == 3.0
    assert best == [2, 4] and evaluation.best_epoch == 4 and evaluation.best_fid == 10.0


def test_periodic_evaluation_rejects_zero_interval():
    with pytest.raises(ValueError, match="at least 1"):
        PeriodicEvaluation(
            build_generator(4),
            np.zeros((1, 4)),
            lambda images: {},
            0,
            [],
            lambda epoch, model: None,
        )
