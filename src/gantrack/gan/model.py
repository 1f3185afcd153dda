"""The GAN as a ``keras.Model``: ``fit()`` runs the adversarial game, callbacks do the rest.

One ``train_step`` (one ``tf.function`` graph per step) holds every variant: the loss pair
by name, the gradient penalties, DiffAugment, class labels, several critic updates per
generator update, mixed-precision loss scaling and the generator's weight average. The
variants are fixed when the model is built, so Python ``if``s on them are resolved once, at
tracing time, and cost nothing per step.

``xla=True`` compiles the update (both networks' forward and backward passes, the optimiser
steps and the weight average) with XLA as one fused program; ``bench/bench_training.py``
measures what it gains (``gantrack+xla+logs`` against ``gantrack+logs``), and
``CHANGELOG.md`` keeps the numbers. Keras's own ``jit_compile`` declines when op
determinism is on and on CPU-only machines; the update here uses only ops XLA compiles
deterministically on CPU (a run repeats bit for bit), and an op it cannot compile fails
the first step loudly rather than falling back.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf
from keras import ops

from gantrack.distribute import replica_position, scale_for_replicas, step_logs
from gantrack.gan.losses import GanLoss
from gantrack.gan.penalties import gradient_penalty, r1_penalty
from gantrack.gan.sampling import latent_dim_of

# Per-epoch means reported by train_step (and so by fit's history and callbacks).
METRIC_NAMES = ("d_loss", "g_loss", "real_score", "fake_score")
PENALTY_METRIC = "penalty"  # reported besides, when a gradient penalty is on
# The weight average's warm-up (TensorFlow's ExponentialMovingAverage with num_updates):
# decay_t = min(decay, (1 + t) / (10 + t)), so early steps do not tie it to the random init.
EMA_WARMUP = 10.0


class GAN(keras.Model):
    """Generator and discriminator trained together by one ``train_step``.

    With ``critic_steps == 1`` each step draws ``z ~ N(0, I)``, scores a real and a
    generated batch and updates both networks from the same forward pass (simultaneous
    gradient descent, as in the DCGAN tutorial). With ``critic_steps = n > 1`` the step
    receives ``n`` real batches at once and makes ``n`` discriminator updates, each with
    fresh latents, then one generator update (WGAN-GP's alternating schedule).

    ``real_score`` and ``fake_score`` are batch means of the loss's ``score`` of the logits:
    ``D(x)`` and ``D(G(z))`` for the cross-entropy losses (0.5 for both is the game's
    equilibrium), the raw critic outputs otherwise.

    Exponential moving average (``ema_decay``): ``ema_generator``, a clone of the generator,
    holds θ̄ ← d_t θ̄ + (1 - d_t) θ after each generator update, with the warm-up
    ``d_t = min(d, (1 + t) / (10 + t))``. BatchNorm moving means and variances are copied
    from the live generator rather than averaged (as StyleGAN does): they describe the
    live generator's activations, a close but not exact match for the averaged weights
    (exact statistics would need a recalibration pass over latents after training).
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        loss: GanLoss,
        seed: int,
        *,
        gradient_penalty_weight: float = 0.0,
        r1_gamma: float = 0.0,
        critic_steps: int = 1,
        ema_decay: float | None = None,
        augment: Callable | None = None,
        conditional: bool = False,
        xla: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if critic_steps < 1:
            raise ValueError(f"critic_steps must be at least 1, got {critic_steps}")
        if ema_decay is not None and not 0.0 < ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1) or None, got {ema_decay}")
        self.generator = generator
        self.discriminator = discriminator
        self.loss_pair = loss
        self.gradient_penalty_weight = gradient_penalty_weight
        self.r1_gamma = r1_gamma
        self.critic_steps = critic_steps
        self.ema_decay = ema_decay
        self.augment = augment
        self.conditional = conditional
        # One XLA program per step shape; fit() traces train_step once, so this compiles once.
        self._update = (
            tf.function(self._update_networks, jit_compile=True) if xla else self._update_networks
        )
        self.latent_dim = latent_dim_of(generator)
        # Seeded model variables, so every random draw is reproducible and checkpointed.
        self.latent_seed = keras.random.SeedGenerator(seed)
        if augment is not None:
            self.augment_seed = keras.random.SeedGenerator(seed + 1)
        if gradient_penalty_weight > 0:
            self.penalty_seed = keras.random.SeedGenerator(seed + 2)
        self.ema_generator = None
        if ema_decay is not None:
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
        names = (*METRIC_NAMES, PENALTY_METRIC) if self.has_penalty else METRIC_NAMES
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
        # Both networks are built functional models; saying so stops fit() from building
        # the GAN by calling it on a batch of images (which it does under a strategy).
        self.built = True

    @property
    def has_penalty(self) -> bool:
        return self.gradient_penalty_weight > 0 or self.r1_gamma > 0

    @property
    def sampling_generator(self) -> keras.Model:
        """The generator to draw images from: the weight average when EMA is on."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def compile(self, generator_optimizer, discriminator_optimizer, **kwargs):
        super().compile(**kwargs)
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer

    @property
    def metrics(self):
        # Listing the trackers here makes fit() reset them at the start of every epoch.
        return list(self.trackers.values())

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    # -- the step ---------------------------------------------------------------------

    def train_step(self, data):
        real_images, labels = data if self.conditional else (data, None)
        values = self._update(real_images, labels)
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return step_logs({name: tracker.result() for name, tracker in self.trackers.items()})

    def _update_networks(self, real_images, labels):
        """One step's updates of both networks (and the average): the per-step losses."""
        if self.critic_steps == 1:
            values = self._simultaneous_step(real_images, labels)
        else:
            values = self._alternating_step(real_images, labels)
        if self.ema_generator is not None:
            self._update_average()
        return values

    def _simultaneous_step(self, real_images, labels):
        latent = self._latent(ops.shape(real_images)[0])
        with tf.GradientTape() as generator_tape, tf.GradientTape() as discriminator_tape:
            generated_images = self.generator(self._inputs(latent, labels), training=True)
            discriminator_loss, penalty, real_logits, fake_logits = self._critic_loss(
                real_images, generated_images, labels
            )
            generator_loss = self.loss_pair.generator(fake_logits)
            # Inside the tapes: the scaled losses are what gets differentiated.
            generator_scaled = self.generator_optimizer.scale_loss(generator_loss)
            discriminator_scaled = self.discriminator_optimizer.scale_loss(discriminator_loss)
        self._apply(generator_tape, generator_scaled, self.generator, self.generator_optimizer)
        self._apply(
            discriminator_tape,
            discriminator_scaled,
            self.discriminator,
            self.discriminator_optimizer,
        )
        return self._values(discriminator_loss, generator_loss, real_logits, fake_logits, penalty)

    def _alternating_step(self, real_images, labels):
        batch_size = real_images.shape[0] // self.critic_steps
        discriminator_losses, penalties = [], []
        # Unrolled at tracing time: critic_steps is a small constant.
        for step in range(self.critic_steps):
            part = slice(step * batch_size, (step + 1) * batch_size)
            part_labels = None if labels is None else labels[part]
            latent = self._latent(batch_size)
            with tf.GradientTape() as tape:
                generated_images = self.generator(self._inputs(latent, part_labels), training=True)
                discriminator_loss, penalty, real_logits, fake_logits = self._critic_loss(
                    real_images[part], generated_images, part_labels
                )
                if penalty is not None:
                    penalties.append(penalty)
                scaled = self.discriminator_optimizer.scale_loss(discriminator_loss)
            self._apply(tape, scaled, self.discriminator, self.discriminator_optimizer)
            discriminator_losses.append(discriminator_loss)
        last_labels = None if labels is None else labels[part]
        with tf.GradientTape() as tape:
            generated_images = self.generator(
                self._inputs(self._latent(batch_size), last_labels), training=True
            )
            _, fake_logits = self._discriminate(generated_images, last_labels)
            generator_loss = self.loss_pair.generator(fake_logits)
            scaled = self.generator_optimizer.scale_loss(generator_loss)
        self._apply(tape, scaled, self.generator, self.generator_optimizer)
        penalty = ops.mean(ops.stack(penalties)) if penalties else None
        return self._values(
            ops.mean(ops.stack(discriminator_losses)),
            generator_loss,
            real_logits,
            fake_logits,
            penalty,
        )

    # -- pieces -----------------------------------------------------------------------

    def _latent(self, batch_size):
        """z ~ N(0, I) for this replica's ``batch_size`` examples.

        Under a strategy with R replicas every replica draws the global batch's latents
        from the same seed and keeps its own slice, so replicas never share latents and
        the step sees exactly the latents one device would.
        """
        replica, replicas = replica_position()
        if replicas == 1:
            return keras.random.normal((batch_size, self.latent_dim), seed=self.latent_seed)
        every = keras.random.normal((batch_size * replicas, self.latent_dim), seed=self.latent_seed)
        return every[replica * batch_size : (replica + 1) * batch_size]

    @staticmethod
    def _inputs(images_or_latent, labels):
        return images_or_latent if labels is None else [images_or_latent, labels]

    def _discriminate(self, images, labels):
        """``(images as the discriminator sees them, logits)``: DiffAugment first, if on."""
        if self.augment is not None:
            images = self.augment(images, self.augment_seed)
        return images, self.discriminator(self._inputs(images, labels), training=True)

    def _critic_loss(self, real_images, generated_images, labels):
        """``(discriminator loss with penalties, penalty or None, real logits, fake logits)``.

        The discriminator sees the real, then the generated images (DiffAugment's draws in
        that order), and the penalties are taken on the images as it saw them.
        """
        real_seen, real_logits = self._discriminate(real_images, labels)
        fake_seen, fake_logits = self._discriminate(generated_images, labels)
        discriminator_loss = self.loss_pair.discriminator(real_logits, fake_logits)
        penalty = self._penalty(real_seen, fake_seen, labels)
        if penalty is not None:
            discriminator_loss = discriminator_loss + penalty
        return discriminator_loss, penalty, real_logits, fake_logits

    def _penalty(self, real_seen, fake_seen, labels):
        """The gradient penalties on the images the discriminator saw, or None when off."""

        def critic(images):
            return self.discriminator(self._inputs(images, labels), training=True)

        penalty = None
        if self.gradient_penalty_weight > 0:
            shape = (ops.shape(real_seen)[0], 1, 1, 1)
            epsilon = keras.random.uniform(shape, 0.0, 1.0, seed=self.penalty_seed)
            fake_seen = ops.cast(fake_seen, real_seen.dtype)
            penalty = self.gradient_penalty_weight * gradient_penalty(
                critic, real_seen, fake_seen, epsilon
            )
        if self.r1_gamma > 0:
            r1 = r1_penalty(critic, real_seen, self.r1_gamma)
            penalty = r1 if penalty is None else penalty + r1
        return penalty

    def _values(self, discriminator_loss, generator_loss, real_logits, fake_logits, penalty):
        values = {
            "d_loss": discriminator_loss,
            "g_loss": generator_loss,
            "real_score": ops.mean(self.loss_pair.score(real_logits)),
            "fake_score": ops.mean(self.loss_pair.score(fake_logits)),
        }
        if penalty is not None:
            values[PENALTY_METRIC] = penalty
        return values

    def _update_average(self) -> None:
        step = ops.cast(self.generator_optimizer.iterations, "float32")
        decay = ops.minimum(self.ema_decay, (1.0 + step) / (EMA_WARMUP + step))
        trainable = {id(weight) for weight in self.generator.trainable_weights}
        for average, weight in zip(self.ema_generator.weights, self.generator.weights, strict=True):
            if id(weight) in trainable:
                average.assign(decay * average + (1.0 - decay) * weight)
            else:  # BatchNorm moving statistics: copied, see the class docstring
                average.assign(weight)

    @staticmethod
    def _apply(tape, scaled_loss, network, optimizer) -> None:
        # `optimizer.scale_loss` is the identity unless the optimiser is a LossScaleOptimizer
        # (mixed precision), whose apply_gradients unscales and skips steps with inf gradients.
        gradients = tape.gradient(scaled_loss, network.trainable_variables)
        # Replicas' gradients are summed by apply_gradients: 1/R makes it the global mean.
        gradients = [scale_for_replicas(gradient) for gradient in gradients]
        optimizer.apply_gradients(zip(gradients, network.trainable_variables, strict=True))
