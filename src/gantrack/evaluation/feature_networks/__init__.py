"""Feature networks for GAN evaluation (FID, KID, IS), loaded by name (``registry``).

Each network turns images (float ``(N, H, W, 1 or 3)`` in [-1, 1]) into features and
class probabilities through :meth:`FeatureNetwork.extract`. Which numbers they give are
comparable with what:

- ``evaluator``: gantrack's classifier trained on this dataset (``paths.evaluator``).
  Offline and fast; comparable only between gantrack runs on the same data and evaluator.
- ``inception_v3``: Keras's InceptionV3 with its ImageNet weights; 2048-d pool features,
  1000 ImageNet classes. Close to, but not the same network as, published FIDs.
- ``inception_2015``: the 2015-12-05 TensorFlow Inception graph of the original FID
  (TTUR) and IS (improved-gan) code: the network of published numbers.

The Inception networks need files that cannot be fetched offline. Each loader tries its
places in order and, when none has the file, raises :class:`FeatureNetworkNotFoundError`
listing every place tried and how to obtain the file; none falls back to random weights.

``base`` holds what they share (the interface, :class:`~.base.NetworkOutputs`, the
errors); each network is a module of its own, so a stage that needs only the evaluator
(``train``) imports ``evaluator_network`` alone. Nothing is imported here: import the
module you use.
"""
