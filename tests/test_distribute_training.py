"""The GAN under ``mirrored`` on two logical CPU devices against one device, same global batch.

Runs in fresh interpreters: logical devices must be set before TensorFlow starts.
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from gantrack.config import load_params
    from gantrack.distribute import make_strategy, split_host_cpu
    from gantrack.training import build_gan, train_gan

    replicas = int(sys.argv[1])
    split_host_cpu(2)
    params = load_params(sys.argv[2])
    config = params.train.model_copy(update={
        "batch_size": 16, "epochs": 1, "eval_every": 0, "latent_dim": 16,
        "distribute": "mirrored" if replicas > 1 else "none",
        "devices": ["/cpu:0", "/cpu:1"] if replicas > 1 else None,
    })
    images = np.random.default_rng(0).uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
    strategy = make_strategy(config.distribute, config.devices)
    with strategy.scope():
        gan = build_gan(config, (28, 28, 1), 0)
    initial = [w.copy() for w in gan.generator.get_weights()]
    history = train_gan(gan, images, config, 0, [], verbose=0)
    moved = [w - w0 for w, w0 in zip(gan.generator.get_weights(), initial)]
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "losses": {k: v[-1] for k, v in history.history.items()},
        "moved": np.concatenate([m.ravel() for m in moved]).tolist(),
    }))
    """
)


def train(replicas: int, params_path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(replicas), str(params_path)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_mirrored_on_two_devices_matches_one_device(repo_root):
    one, two = train(1, repo_root / "params.yaml"), train(2, repo_root / "params.yaml")
    assert (one["replicas"], two["replicas"]) == (1, 2)
    moved_one, moved_two = np.array(one["moved"]), np.array(two["moved"])
    difference = np.linalg.norm(moved_two - moved_one) / np.linalg.norm(moved_one)
    print(f"relative difference of the generator's update: {difference:.3g}")
    print("losses:", one["losses"], two["losses"])
    # Latents, BatchNorm statistics and the gradient mean are those of one device; the
    # discriminator's dropout masks are drawn per replica, so the match is close, not exact.
    assert difference < 0.1
    for name in ("d_loss", "g_loss"):
        assert two["losses"][name] == pytest.approx(one["losses"][name], rel=0.05)
