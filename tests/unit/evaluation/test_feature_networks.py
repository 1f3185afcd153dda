"""Feature networks, each loaded by its real loader from small stand-ins the tests make.

- InceptionV3: randomly initialised weights, saved as a ``.weights.h5`` and, in a Keras
  cache folder, in the legacy ``.h5`` layout of Keras's published file.
- Inception 2015: a tiny frozen graph with the real graph's node names and structure
  (JPEG decoder, ``ExpandDims``, TF1 resize to 299, ``(x - 128) / 128``, pooling to 8×8,
  a batch norm removed since GraphDef version 9, an 8×8 average ``pool_3``, a batch-1
  ``pool_3/_reshape`` and the ``softmax`` head), whose features are a known function of
  each image's grey level. It is not the published file, so each load names its SHA-256
  (the opt-in for a graph of one's own); crafted copies add ops no Inception graph has.
- The evaluator: an untrained ``build_evaluator`` saved to a ``.keras`` file.
"""

import hashlib

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.src.legacy.saving import legacy_h5_format

from gantrack.config import FEATURE_NETWORK_NAMES, RESIZE_METHODS
from gantrack.errors import GantrackError
from gantrack.evaluation.evaluator import build_evaluator, feature_extractor
from gantrack.evaluation.feature_networks import inception_2015
from gantrack.evaluation.feature_networks.base import (
    CorruptFeatureNetworkError,
    FeatureNetworkNotFoundError,
)
from gantrack.evaluation.feature_networks.inception_2015 import (
    ARCHIVE_URL,
    GRAPH_FILE,
    GRAPH_PARAM,
    OWN_GRAPH_VARIABLE,
    UnsafeGraphError,
)
from gantrack.evaluation.feature_networks.inception_v3 import (
    WEIGHTS_FILE,
    WEIGHTS_PARAM,
    WEIGHTS_URL,
    find_weights,
)
from gantrack.evaluation.feature_networks.registry import load_feature_network


def failing_download():
    raise OSError("no network in this test")


def random_images(num, seed=0, channels=1):
    """``(num, 28, 28, channels)`` in [-1, 1], gantrack's image convention."""
    return np.random.default_rng(seed).uniform(-1, 1, (num, 28, 28, channels)).astype(np.float32)


def grey_levels(levels):
    """One flat 28×28 grey image per level in [-1, 1]."""
    return np.stack([np.full((28, 28, 1), level, np.float32) for level in levels])


def softmax(logits):
    exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exponentials / exponentials.sum(axis=1, keepdims=True)


# --- inception_v3 ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def inception_v3_files(tmp_path_factory):
    """(weights .weights.h5, a keras_home whose cache holds the legacy .h5, the model)."""
    folder = tmp_path_factory.mktemp("inception_v3")
    keras.utils.set_random_seed(3)
    model = keras.applications.InceptionV3(include_top=True, weights=None)
    weights = folder / "random.weights.h5"
    model.save_weights(weights)
    cache = folder / "keras_home" / "models" / WEIGHTS_FILE
    cache.parent.mkdir(parents=True)
    with h5py.File(cache, "w") as handle:  # the layout of Keras's published weights file
        legacy_h5_format.save_weights_to_hdf5_group(handle, model)
    return weights, folder / "keras_home", model


def inception_v3_reference(model, images, resize_method):
    """What the network should output, computed directly from the saved model."""
    rgb = np.broadcast_to((images + 1) * 127.5, (*images.shape[:3], 3))  # grey -> RGB
    resized = tf.image.resize(rgb, (299, 299), method=resize_method).numpy()
    heads = keras.Model(model.input, [model.get_layer("avg_pool").output, model.output])
    return [output.numpy() for output in heads(resized / 127.5 - 1, training=False)]


def check_outputs(outputs, num_images, feature_dim, num_classes):
    assert outputs.features.shape == (num_images, feature_dim)
    assert outputs.probabilities.shape == (num_images, num_classes)
    assert outputs.features.dtype == np.float64 and outputs.probabilities.dtype == np.float64
    np.testing.assert_allclose(outputs.probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_inception_v3_from_explicit_weights_file(inception_v3_files, tmp_path):
    weights, _, model = inception_v3_files
    network = load_feature_network(
        "inception_v3",
        inception_v3_weights=weights,
        resize_method="nearest",
        keras_home=tmp_path / "empty_keras_home",
        download=failing_download,
    )
    images = random_images(3)
    outputs, images_per_second = network.extract(images, batch_size=2, verbose=0)
    check_outputs(outputs, 3, 2048, 1000)
    expected_features, expected_probabilities = inception_v3_reference(model, images, "nearest")
    np.testing.assert_allclose(outputs.features, expected_features, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(outputs.probabilities, expected_probabilities, atol=1e-6)
    assert images_per_second > 0
    assert str(weights) in network.origin and "differs from" in network.origin
    assert "not comparable" in network.label and "299×299 nearest" in network.label


def test_inception_v3_from_keras_cache_after_a_missing_explicit_file(inception_v3_files, tmp_path):
    _, keras_home, model = inception_v3_files
    network = load_feature_network(
        "inception_v3",
        inception_v3_weights=tmp_path / "absent.weights.h5",
        keras_home=keras_home,
        download=failing_download,
    )
    images = random_images(2, seed=1, channels=3)
    outputs, _ = network.extract(images, batch_size=8, verbose=0)
    check_outputs(outputs, 2, 2048, 1000)
    expected_features, expected_probabilities = inception_v3_reference(model, images, "bilinear")
    np.testing.assert_allclose(outputs.features, expected_features, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(outputs.probabilities, expected_probabilities, atol=1e-6)
    assert network.origin.startswith(f"Keras cache {keras_home / 'models' / WEIGHTS_FILE}")


@pytest.mark.parametrize("explicit", [None, "absent.weights.h5"])
def test_missing_inception_v3_weights_lists_every_place_and_the_fix(tmp_path, explicit):
    weights = None if explicit is None else tmp_path / explicit
    keras_home = tmp_path / "keras_home"
    with pytest.raises(FeatureNetworkNotFoundError) as caught:
        load_feature_network(
            "inception_v3",
            inception_v3_weights=weights,
            keras_home=keras_home,
            download=failing_download,
        )
    message = str(caught.value)
    cache = keras_home / "models" / WEIGHTS_FILE
    explicit_line = f"{WEIGHTS_PARAM}: not set" if weights is None else f"{weights}: not found"
    assert f"InceptionV3 ImageNet weights {WEIGHTS_FILE} was not found" in message
    assert explicit_line in message
    assert f"Keras cache {cache}: not found" in message
    assert f"Keras download of {WEIGHTS_URL}: failed (OSError: no network in this test)" in message
    assert f"To provide it: download {WEIGHTS_URL}" in message
    assert f"put it at {cache} or set {WEIGHTS_PARAM}" in message
    assert isinstance(caught.value, GantrackError)


def test_inception_v3_weights_are_looked_for_in_order(tmp_path):
    explicit, cache = tmp_path / "mine.weights.h5", tmp_path / "models" / WEIGHTS_FILE
    downloaded = tmp_path / "downloaded.h5"
    for path in (explicit, cache, downloaded):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"")

    def download():
        return downloaded

    assert find_weights(explicit, tmp_path, download)[0] == explicit
    assert find_weights(tmp_path / "absent.h5", tmp_path, download)[0] == cache
    cache.unlink()
    path, origin = find_weights(None, tmp_path, download)
    assert path == downloaded and origin == f"Keras download of {WEIGHTS_URL} to {downloaded}"


def test_unreadable_inception_v3_weights_file_is_named(tmp_path):
    weights = tmp_path / "broken.h5"
    weights.write_bytes(b"<html>a proxy's error page</html>")
    with pytest.raises(CorruptFeatureNetworkError, match=r"broken\.h5: not an HDF5 file"):
        load_feature_network("inception_v3", inception_v3_weights=weights, keras_home=tmp_path)
    with pytest.raises(ValueError, match=r"must be a \.h5 or \.weights\.h5 file; got .*w\.keras"):
        load_feature_network("inception_v3", inception_v3_weights="w.keras", keras_home=tmp_path)


# --- inception_2015 ----------------------------------------------------------------------

# The stand-in's parameters: pool_3 = [relu(batch_norm(u K)), u L] for an image whose
# pixels, once scaled like the real graph's input, are all u = (v - 128) / 128.
CONV_KERNEL = np.array([[0.5, -1.0], [0.25, 0.5], [1.0, 2.0]], np.float32)  # (3, 2)
TOWER_KERNEL = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]], np.float32)  # (3, 2)
BATCH_NORM = {"mean": 0.1, "variance": 4.0, "beta": 0.5, "gamma": 2.0, "epsilon": 1e-3}
SOFTMAX_WEIGHTS = np.arange(20, dtype=np.float32).reshape(4, 5) / 10 - 1  # (4, 5)
SOFTMAX_BIASES = np.array([0.0, 1.0, -1.0, 2.0, 0.5], np.float32)


def standin_features(grey):
    """pool_3 of the stand-in graph for flat images of these grey levels in [-1, 1]."""
    scaled = ((np.asarray(grey, np.float64)[:, None] + 1) * 127.5 - 128) / 128  # (n, 1)
    conv = scaled * CONV_KERNEL.sum(axis=0)  # the same value in each RGB channel
    norm = BATCH_NORM
    inverse_std = 1 / np.sqrt(norm["variance"] + norm["epsilon"])
    batch_norm = (conv - norm["mean"]) * inverse_std * norm["gamma"] + norm["beta"]
    return np.concatenate([np.maximum(batch_norm, 0), scaled * TOWER_KERNEL.sum(axis=0)], 1)


def write_inception_2015_standin(path):
    """A frozen graph shaped like classify_image_graph_def.pb, written as a .pb file."""
    graph = tf.Graph()
    with graph.as_default():
        contents = tf.compat.v1.placeholder(tf.string, (), name="DecodeJpeg/contents")
        decoded = tf.io.decode_jpeg(contents, channels=3, name="DecodeJpeg")
        image = tf.cast(decoded, tf.float32, name="Cast")
        batch = tf.expand_dims(image, 0, name="ExpandDims")  # the fixed batch of 1
        size = tf.constant([299, 299], name="ResizeBilinear/size")
        resized = tf.raw_ops.ResizeBilinear(images=batch, size=size, name="ResizeBilinear")
        scaled = tf.multiply(tf.subtract(resized, 128.0, name="Sub"), 1 / 128, name="Mul")
        pooled = tf.nn.max_pool2d(scaled, 40, 37, "VALID", name="pool")  # (1, 8, 8, 3)
        conv = tf.nn.conv2d(pooled, CONV_KERNEL[None, None], 1, "VALID", name="conv/Conv2D")
        for name in ("mean", "variance", "beta", "gamma"):
            tf.constant(np.full(2, BATCH_NORM[name], np.float32), name=f"conv/batchnorm/{name}")
        batch_norm = tf.identity(conv, name="conv/batchnorm")  # made an old op below
        relu = tf.nn.relu(batch_norm, name="conv/Relu")
        tower = tf.nn.conv2d(pooled, TOWER_KERNEL[None, None], 1, "VALID", name="tower/Conv2D")
        join = tf.raw_ops.Concat(concat_dim=3, values=[relu, tower], name="mixed/join")
        pool = tf.nn.avg_pool2d(join, 8, 1, "VALID", name="pool_3")  # (1, 1, 1, 4)
        flat = tf.reshape(pool, [1, 4], name="pool_3/_reshape")  # batch 1 only
        weights = tf.constant(SOFTMAX_WEIGHTS, name="softmax/weights")
        matmul = tf.matmul(flat, weights, name="softmax/logits/MatMul")
        biases = tf.constant(SOFTMAX_BIASES, name="softmax/biases")
        logits = tf.nn.bias_add(matmul, biases, name="softmax/logits")
        tf.nn.softmax(logits, name="softmax")
    graph_def = graph.as_graph_def(add_shapes=True)  # records the batch-1 shapes, as frozen
    # BatchNormWithGlobalNormalization cannot be built since GraphDef version 9; write
    # it as the 2015 graph has it, in a GraphDef of that era.
    graph_def.versions.producer = 3
    (node,) = [node for node in graph_def.node if node.name == "conv/batchnorm"]
    node.op = "BatchNormWithGlobalNormalization"
    parameters = ("mean", "variance", "beta", "gamma")  # the op's input order
    node.input[:] = ["conv/Conv2D", *(f"conv/batchnorm/{name}" for name in parameters)]
    node.attr["variance_epsilon"].f = BATCH_NORM["epsilon"]
    node.attr["scale_after_normalization"].b = True
    path.write_bytes(graph_def.SerializeToString())
    return path


@pytest.fixture(scope="module")
def inception_2015_graph(tmp_path_factory):
    return write_inception_2015_standin(tmp_path_factory.mktemp("inception") / GRAPH_FILE)


def sha256_of(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_standin(path, **arguments):
    """The stand-in loaded as a graph of one's own: named by its SHA-256."""
    graph = path / GRAPH_FILE if path.is_dir() else path
    return load_feature_network(
        "inception_2015",
        inception_2015_graph=path,
        inception_2015_own_graph_sha256=sha256_of(graph),
        **arguments,
    )


def run_like_ttur(graph_path, images):
    """pool_3:0 and the graph's own softmax:0, run the TF1 way, one image at a time."""
    graph_def = tf.compat.v1.GraphDef.FromString(graph_path.read_bytes())
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    rgb = np.repeat((images + 1) * 127.5, 3, axis=-1)
    with tf.compat.v1.Session(graph=graph) as session:
        results = [session.run(["pool_3:0", "softmax:0"], {"ExpandDims:0": x[None]}) for x in rgb]
    return np.concatenate([r[0] for r in results])[:, 0, 0], np.concatenate([r[1] for r in results])


def test_inception_2015_features_and_improved_gan_probabilities(inception_2015_graph):
    network = load_standin(inception_2015_graph)
    levels = [-1.0, -0.2, 0.3, 1.0]
    outputs, images_per_second = network.extract(grey_levels(levels), batch_size=3, verbose=0)
    check_outputs(outputs, 4, 4, 5)
    expected = standin_features(levels)
    np.testing.assert_allclose(outputs.features, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outputs.probabilities, softmax(expected @ SOFTMAX_WEIGHTS), 1e-5)
    assert "without (as improved-gan) bias" in network.label and images_per_second > 0
    assert network.origin.startswith(
        f"{inception_2015_graph}; sha256 {sha256_of(inception_2015_graph)}"
    )


def test_inception_2015_matches_the_graph_run_as_ttur_runs_it(inception_2015_graph):
    network = load_standin(
        inception_2015_graph.parent,  # a folder holding the .pb
        inception_2015_softmax_bias=True,
    )
    images = random_images(3, seed=4)
    outputs, _ = network.extract(images, batch_size=3, verbose=0)
    pool_3, graph_softmax = run_like_ttur(inception_2015_graph, images)
    np.testing.assert_allclose(outputs.features, pool_3, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outputs.probabilities, graph_softmax, rtol=1e-5, atol=1e-7)
    assert "with bias" in network.label


@pytest.mark.parametrize("where", ["unset", "absent", "empty folder"])
def test_missing_inception_2015_graph_says_how_to_obtain_it(tmp_path, where):
    path = {
        "unset": None,
        "absent": tmp_path / GRAPH_FILE,
        "empty folder": tmp_path,
    }[where]
    with pytest.raises(FeatureNetworkNotFoundError) as caught:
        load_feature_network("inception_2015", inception_2015_graph=path)
    message = str(caught.value)
    reason = {
        "unset": f"{GRAPH_PARAM}: not set",
        "absent": f"{GRAPH_PARAM} {path}: not found",
        "empty folder": f"{GRAPH_PARAM} {path}: a folder without {GRAPH_FILE}",
    }[where]
    assert f"the Inception 2015-12-05 graph {GRAPH_FILE} was not found" in message
    assert f"Places tried:\n  - {reason}\n" in message
    assert f"download {ARCHIVE_URL}" in message and "tar -xzf inception-2015-12-05.tgz" in message
    assert f"set {GRAPH_PARAM} in params.yaml" in message


def test_a_graph_that_is_not_inception_2015_is_named(tmp_path):
    garbage = tmp_path / "garbage.pb"
    garbage.write_bytes(b"\xff\xfe not a protocol buffer")
    with pytest.raises(CorruptFeatureNetworkError, match=r"garbage\.pb: not a TensorFlow"):
        load_standin(garbage)
    other = tmp_path / "other.pb"
    graph = tf.Graph()
    with graph.as_default():
        tf.constant(1.0, name="ExpandDims")
    other.write_bytes(graph.as_graph_def().SerializeToString())
    with pytest.raises(CorruptFeatureNetworkError, match=r"other\.pb: has no pool_3:0, softmax"):
        load_standin(other)


def test_a_graph_tensorflow_cannot_run_is_named_with_the_reason(inception_2015_graph, monkeypatch):
    monkeypatch.setattr(inception_2015, "OLD_BATCH_NORM", "(rewrite switched off)")
    with pytest.raises(CorruptFeatureNetworkError) as caught:
        load_standin(inception_2015_graph)
    assert str(caught.value).startswith(f"{inception_2015_graph}: TensorFlow {tf.__version__}")
    assert "Op BatchNormWithGlobalNormalization is not available" in str(caught.value)


def write_crafted_graph(path, written):
    """The stand-in whose ``pool_3`` first runs a ``WriteFile`` of ``written``."""
    write_inception_2015_standin(path)
    graph_def = tf.compat.v1.GraphDef.FromString(path.read_bytes())
    for name, value in (("crafted/filename", str(written)), ("crafted/contents", "written")):
        node = graph_def.node.add(name=name, op="Const")
        node.attr["dtype"].type = tf.string.as_datatype_enum
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
    graph_def.node.add(
        name="crafted/write",
        op="WriteFile",
        input=[f"crafted/{name}" for name in ("filename", "contents")],
    )
    (pool_3,) = [node for node in graph_def.node if node.name == "pool_3"]
    pool_3.input.append("^crafted/write")  # runs whenever pool_3 is computed
    path.write_bytes(graph_def.SerializeToString())
    return path


def test_a_graph_with_a_write_file_op_is_refused_before_anything_runs(tmp_path):
    written = tmp_path / "written.txt"
    crafted = write_crafted_graph(tmp_path / GRAPH_FILE, written)
    with pytest.raises(UnsafeGraphError) as refused:
        load_standin(crafted)  # even named by its own hash: the ops decide
    message = str(refused.value)
    assert f"{crafted}: holds ops an Inception graph has no use for: WriteFile" in message
    assert "\n" not in message and not written.exists()


def test_a_function_library_cannot_smuggle_ops_past_the_allowlist(inception_2015_graph, tmp_path):
    graph_def = tf.compat.v1.GraphDef.FromString(inception_2015_graph.read_bytes())
    function = graph_def.library.function.add()
    function.signature.name = "Smuggled"
    function.node_def.add(name="run", op="PyFunc")
    smuggling = tmp_path / "smuggling.pb"
    smuggling.write_bytes(graph_def.SerializeToString())
    with pytest.raises(UnsafeGraphError, match="PyFunc"):
        load_standin(smuggling)


def test_only_the_published_graph_loads_without_naming_its_own_hash(
    inception_2015_graph, monkeypatch, capsys
):
    digest = sha256_of(inception_2015_graph)
    with pytest.raises(CorruptFeatureNetworkError) as refused:
        load_feature_network("inception_2015", inception_2015_graph=inception_2015_graph)
    message = str(refused.value)
    assert f"{inception_2015_graph}: not the published {GRAPH_FILE}" in message
    assert f"{OWN_GRAPH_VARIABLE}={digest}" in message and "\n" not in message
    with pytest.raises(CorruptFeatureNetworkError, match=f"its SHA-256 is {digest}, not 0+"):
        load_feature_network(
            "inception_2015",
            inception_2015_graph=inception_2015_graph,
            inception_2015_own_graph_sha256="0" * 64,
        )
    network = load_standin(inception_2015_graph)  # a graph of one's own: loads, with a warning
    assert "not comparable with published" in capsys.readouterr().err
    assert "a graph of your own" in network.label
    # The published file is known by its size and MD5: the stand-in, pinned so, needs no hash.
    monkeypatch.setattr(inception_2015, "PUBLISHED_GRAPH_SIZE", inception_2015_graph.stat().st_size)
    standin_md5 = hashlib.md5(inception_2015_graph.read_bytes(), usedforsecurity=False).hexdigest()
    monkeypatch.setattr(inception_2015, "PUBLISHED_GRAPH_MD5", standin_md5)
    network = load_feature_network("inception_2015", inception_2015_graph=inception_2015_graph)
    assert "published" in network.origin and capsys.readouterr().err == ""


def test_the_graph_download_link_is_https():
    assert ARCHIVE_URL.startswith("https://storage.googleapis.com/download.tensorflow.org/")


# --- evaluator and the registry ----------------------------------------------------------


@pytest.fixture(scope="module")
def evaluator_file(tmp_path_factory):
    keras.utils.set_random_seed(5)
    evaluator = build_evaluator((28, 28, 1), 10, feature_dim=16)
    path = tmp_path_factory.mktemp("evaluator") / "evaluator.keras"
    evaluator.save(path)
    return path, evaluator


@pytest.fixture(scope="module")
def evaluator_network(evaluator_file):
    return load_feature_network("evaluator", evaluator_path=evaluator_file[0])


def test_evaluator_network_wraps_the_trained_evaluator(evaluator_file, evaluator_network):
    images = random_images(5, seed=6)
    outputs, _ = evaluator_network.extract(images, batch_size=2, verbose=0)
    check_outputs(outputs, 5, 16, 10)
    expected = feature_extractor(evaluator_file[1]).predict(images, verbose=0)
    np.testing.assert_allclose(outputs.features, expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outputs.probabilities, expected[1], rtol=1e-5, atol=1e-7)
    assert "comparable only within this project" in evaluator_network.label
    assert evaluator_network.image_shape == (28, 28, 1)


def test_evaluator_network_errors(tmp_path):
    with pytest.raises(FeatureNetworkNotFoundError, match="dvc repro train_evaluator") as caught:
        load_feature_network("evaluator", evaluator_path=tmp_path / "evaluator.keras")
    assert f"paths.evaluator {tmp_path / 'evaluator.keras'}: not found" in str(caught.value)
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip archive")
    with pytest.raises(CorruptFeatureNetworkError, match=r"broken\.keras: not a loadable"):
        load_feature_network("evaluator", evaluator_path=broken)


def test_extract_rejects_images_outside_the_convention(evaluator_network):
    pixels = np.linspace(0, 255, 2 * 28 * 28, dtype=np.float32).reshape(2, 28, 28, 1)
    with pytest.raises(ValueError, match=r"scaled to \[-1, 1\].*got values in \[0, 255\]"):
        evaluator_network.extract(pixels, 2, verbose=0)
    with pytest.raises(ValueError, match=r"takes images of shape \(28, 28, 1\); got \(32, 32"):
        evaluator_network.extract(np.zeros((2, 32, 32, 3), np.float32), 2, verbose=0)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        evaluator_network.extract(np.zeros((2, 28, 28), np.float32), 2, verbose=0)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        evaluator_network.extract(np.zeros((2, 28, 28, 1), np.float32), 0, verbose=0)


def test_unknown_network_and_resize_method_are_rejected_with_the_valid_names(tmp_path):
    with pytest.raises(ValueError, match="valid names: evaluator, inception_v3, inception_2015"):
        load_feature_network("inception_v4")
    assert FEATURE_NETWORK_NAMES == ("evaluator", "inception_v3", "inception_2015")
    with pytest.raises(ValueError, match=r"unknown resize method 'linear'; .*bilinear, bicubic"):
        load_feature_network("inception_v3", resize_method="linear", keras_home=tmp_path)


def test_the_configurable_resize_methods_are_those_tensorflow_accepts():
    import tensorflow as tf

    methods = vars(tf.image.ResizeMethod)
    accepted = {value for key, value in methods.items() if key.isupper()}
    assert set(RESIZE_METHODS) == accepted
    with pytest.raises(ValueError, match="'evaluator' needs evaluator_path"):
        load_feature_network("evaluator")
    with pytest.raises(ValueError, match="'inception_v3' needs keras_home"):
        load_feature_network("inception_v3")
