"""Small configurations for fast tests."""


def tiny_train_config(params, **changes):
    """``params.train`` shrunk for a step on a tiny batch (latent 8, batch 4, one epoch),
    unconditional unless a test asks (the default is conditional: it needs labels), and
    with the XLA step (params.yaml's ``auto`` would run the timed probe for every shape)."""
    update = {"latent_dim": 8, "batch_size": 4, "epochs": 1, "conditional": False, "xla": True}
    return params.train.model_copy(update={**update, **changes})
