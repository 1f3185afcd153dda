"""Training the evaluator's classifier: on real images (the evaluator, the offline scoring
network) and on samples (the Classification Accuracy Score).

Trained on the prepared train split of the dataset, the evaluator's penultimate
``features`` give FID and its class probabilities give IS (its architecture:
:mod:`gantrack.evaluation.evaluator`). Numbers from it are comparable between gantrack
runs on the same data and evaluator, not with published Inception-network FIDs.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from gantrack.config import EvaluatorConfig
from gantrack.evaluation.evaluator import build_evaluator


def train_evaluator(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    num_classes: int,
    config: EvaluatorConfig,
    seed: int,
    callbacks: list[keras.callbacks.Callback],
    verbose: int | str = "auto",
) -> keras.Model:
    """Train the Inception-style classifier whose features and probabilities score GANs.

    Adam with a cosine-decayed learning rate over all steps; sparse cross-entropy.
    """
    keras.utils.set_random_seed(seed)
    evaluator = build_evaluator(train_images.shape[1:], num_classes, augment=config.augment)
    steps = config.epochs * -(-len(train_images) // config.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=steps)
    evaluator.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    dataset = (
        tf.data.Dataset.from_tensor_slices((train_images, train_labels))
        .shuffle(len(train_images), seed=seed, reshuffle_each_iteration=True)
        .batch(config.batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    evaluator.fit(
        dataset, epochs=config.epochs, callbacks=callbacks, verbose=verbose, shuffle=False
    )
    return evaluator


def classification_accuracy_score(
    generated_images: np.ndarray,
    generated_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    num_classes: int,
    config: EvaluatorConfig,
    seed: int,
    batch_size: int = 256,
) -> float:
    """Ravuri & Vinyals (2019)'s Classification Accuracy Score (CAS) of a conditional GAN.

    The evaluator's architecture and recipe (:func:`train_evaluator`) trained on generated
    images labelled with the class each was drawn for, then its accuracy on the real test
    split. Read it beside the same classifier trained on the real training split (the
    evaluator's test accuracy): the gap is what the samples lack as training data: class
    fidelity (a "3" drawn for class 5 teaches the wrong label) and diversity (a class drawn
    as one image teaches little). FID and IS do not see the first; a copying generator can
    score well here too (memorisation answers that).
    """
    if len(generated_images) != len(generated_labels):
        raise ValueError(
            f"{len(generated_images)} generated images but {len(generated_labels)} labels"
        )
    present = np.unique(generated_labels)
    if len(present) < 2:
        raise ValueError(
            f"the samples are of {len(present)} class(es); the classification accuracy "
            "score needs samples drawn for every class (sample.label: null)"
        )
    classifier = train_evaluator(
        generated_images, generated_labels, num_classes, config, seed, callbacks=[], verbose=0
    )
    _, accuracy = classifier.evaluate(test_images, test_labels, batch_size=batch_size, verbose=0)
    return float(accuracy)
