"""The GAN as a ``keras.Model``: ``fit()`` runs the adversarial game, callbacks do the rest."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from gantrack.losses import GanLoss

# Per-epoch means reported by train_step (and so by fit's history and callbacks).
METRIC_NAMES = ("d_loss", "g_loss", "real_score", "fake_score")


class GAN(keras.Model):
    """Generator and discriminator trained together by one ``train_step``.

    Each step draws ``z ~ N(0, I)``, scores a real and a generated batch and updates both
    networks from the same forward pass (simultaneous gradient descent, as in the DCGAN
    tutorial). ``real_score`` and ``fake_score`` are the batch means of ``D(x)`` and
    ``D(G(z))``: 0.5 for both is the game's equilibrium.
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        loss: GanLoss,
        seed: int,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.loss_pair = loss
        self.latent_dim = generator.input_shape[-1]
        # Seeded, and a model variable, so the latent draws are reproducible and checkpointed.
        self.latent_seed = keras.random.SeedGenerator(seed)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in METRIC_NAMES}

    def compile(self, generator_optimizer, discriminator_optimizer, **kwargs):
        super().compile(**kwargs)
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer

    @property
    def metrics(self):
        # Listing the trackers here makes fit() reset them at the start of every epoch.
        return list(self.trackers.values())

    def call(self, latent, training=False):
        return self.generator(latent, training=training)

    def train_step(self, real_images):
        batch_size = ops.shape(real_images)[0]
        latent = keras.random.normal((batch_size, self.latent_dim), seed=self.latent_seed)
        with tf.GradientTape() as generator_tape, tf.GradientTape() as discriminator_tape:
            generated_images = self.generator(latent, training=True)
            real_logits = self.discriminator(real_images, training=True)
            fake_logits = self.discriminator(generated_images, training=True)
            generator_loss = self.loss_pair.generator(fake_logits)
            discriminator_loss = self.loss_pair.discriminator(real_logits, fake_logits)
        self._apply(generator_tape, generator_loss, self.generator, self.generator_optimizer)
        self._apply(
            discriminator_tape, discriminator_loss, self.discriminator, self.discriminator_optimizer
        )
        values = {
            "d_loss": discriminator_loss,
            "g_loss": generator_loss,
            "real_score": ops.mean(ops.sigmoid(real_logits)),
            "fake_score": ops.mean(ops.sigmoid(fake_logits)),
        }
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    @staticmethod
    def _apply(tape, loss, network, optimizer) -> None:
        gradients = tape.gradient(loss, network.trainable_variables)
        optimizer.apply_gradients(zip(gradients, network.trainable_variables, strict=True))
