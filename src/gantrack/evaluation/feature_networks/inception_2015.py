"""The ``inception_2015`` feature network: the graph behind the published FIDs and ISs.

``classify_image_graph_def.pb`` from ``inception-2015-12-05.tgz`` is the frozen
TensorFlow graph that the original FID code (bioinf-jku/TTUR ``fid.py``) and the original
Inception Score code (openai/improved-gan ``inception_score/model.py``) both load. Its
numbers are the ones comparable with papers, within the usual caveats (sample size,
reference set). It is read only from a local file: nothing is downloaded.

How those projects run it, and how this module does the same in TF2:

- Input: both feed the tensor ``ExpandDims:0``, float ``(N, H, W, 3)`` in [0, 255], any
  H×W; it sits after the graph's JPEG decoder. The graph itself then resizes to 299×299
  (its ``ResizeBilinear`` node: TF1's bilinear, without half-pixel centres) and scales
  with ``(x - 128) / 128``. Here an ``input_map`` puts a batch of gantrack images, taken
  from [-1, 1] to [0, 255] and grey repeated to three channels, in place of
  ``ExpandDims:0``; no resize happens outside the graph.
- Batching: the graph was frozen for one image; its tensors carry batch-1 shapes and
  ``pool_3/_reshape`` (feeding the classifier) reshapes to a constant ``[1, 2048]``. TTUR
  and improved-gan overwrite the static shapes after import and skip that reshape.
  Here the recorded ``_output_shapes`` are dropped before import, so shapes are inferred
  from the batch fed, and the classifier is recomputed from ``pool_3``.
- Features (FID): ``pool_3:0``, ``(N, 1, 1, 2048)`` squeezed to ``(N, 2048)``, as TTUR.
- Probabilities (IS): improved-gan computes ``softmax(pool_3 @ W)`` with ``W`` the second
  input of ``softmax/logits/MatMul`` (``softmax/weights``, 2048×1008): 1008 classes, and
  *no bias*. That is the default here, for numbers comparable with papers that used that
  code; ``include_softmax_bias=True`` adds ``softmax/biases:0``, as the graph's own
  ``softmax:0`` does.
- Old ops: the graph's batch norms are ``BatchNormWithGlobalNormalization``, removed from
  GraphDef version 9 on. A TF1 session still runs them (an import lowers the session
  graph's version), but a TF2 function runs at the current version and refuses them, so
  each is rewritten into the same arithmetic as its kernel:
  ``(t - mean) * (rsqrt(variance + epsilon) * gamma) + beta``.

The graph is imported with ``tf.graph_util.import_graph_def`` inside
``tf.compat.v1.wrap_function``, which gives an eager-callable TF2 function.

Trust: a GraphDef is a program, and TensorFlow has ops that write files (``WriteFile``),
read them, or call Python (``PyFunc``); importing a graph whose ``pool_3`` depends on one
runs it. So, before anything is imported:

- the file must be the published one (its size and MD5, :data:`PUBLISHED_GRAPH_MD5`), or
  a graph of your own named by its SHA-256 (``inception_2015_own_graph_sha256``; the stage
  reads ``$GANTRACK_INCEPTION_2015_SHA256``), which loads with a warning, since its numbers
  are not comparable with published ones;
- every op of the graph and of its function library must be in :data:`ALLOWED_OPS`, the
  arithmetic the Inception graph is made of: no file, process or network op passes, even
  in a graph named by its own hash.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import tensorflow as tf
from google.protobuf.message import DecodeError

from gantrack.evaluation.feature_networks.base import (
    CorruptFeatureNetworkError,
    FeatureNetwork,
    build_network,
    not_found,
    to_rgb_255,
)

GRAPH_FILE = "classify_image_graph_def.pb"
ARCHIVE_URL = (
    "https://storage.googleapis.com/download.tensorflow.org/models/image/imagenet/"
    "inception-2015-12-05.tgz"
)
GRAPH_PARAM = "feature_networks.inception_2015_graph"
# The published graph file, as pinned by a public project's evaluation protocol
# (``evaluation_protocols.py``, ``LSUN_BEDROOM256_ADM_PROTOCOL.detector``: OpenAI's copy of
# this graph for the ADM evaluator, openaipublic.blob.core.windows.net/diffusion/jul-2021/
# ref_batches/classify_image_graph_def.pb); the size is also the one a listing of
# inception-2015-12-05.tgz shows. No public SHA-256 of the file was found, so the pin is
# the size and MD5: MD5 collisions need both files crafted, and Google's is not.
PUBLISHED_GRAPH_SIZE = 95_673_916
PUBLISHED_GRAPH_MD5 = "e6bb154e85f5d4331c22abcddb5dcf31"
# Set where a stage runs, to the SHA-256 of a graph of your own: it then loads, with a warning.
OWN_GRAPH_VARIABLE = "GANTRACK_INCEPTION_2015_SHA256"
# The ops the Inception 2015 graph is made of (its JPEG decoder, resize, convolutions, old
# batch norms, CheckNumerics and their control_dependency Identity nodes, pools, concats,
# the classifier), plus harmless spellings of the same arithmetic. Nothing that touches a
# file, a process, the network or Python.
ALLOWED_OPS = frozenset(
    {
        "Add", "AddV2", "AvgPool", "BatchNormWithGlobalNormalization", "BiasAdd", "Cast",
        "CheckNumerics", "Concat", "ConcatV2", "Const", "Conv2D", "DecodeJpeg", "ExpandDims",
        "Identity", "MatMul", "MaxPool", "Mul", "NoOp", "Placeholder", "Relu",
        "ResizeBilinear", "Reshape", "Softmax", "Squeeze", "Sub",
    }
)  # fmt: skip
INPUT_TENSOR = "ExpandDims:0"  # (N, H, W, 3) float in [0, 255], before the graph's resize
POOL_TENSOR = "pool_3:0"  # (N, 1, 1, 2048): FID's features
LOGITS_MATMUL = "softmax/logits/MatMul"  # its second input is softmax/weights (2048, 1008)
BIASES_TENSOR = "softmax/biases:0"  # (1008,)
OLD_BATCH_NORM = "BatchNormWithGlobalNormalization"


class UnsafeGraphError(CorruptFeatureNetworkError):
    """A graph holds ops that no Inception graph needs (file, process or Python ops)."""


def load_inception_2015(
    graph_path: Path | None,
    include_softmax_bias: bool = False,
    own_graph_sha256: str | None = None,
) -> FeatureNetwork:
    """The 2015-12-05 Inception graph at ``graph_path`` (the ``.pb`` or a folder holding it).

    Only the published file loads, unless ``own_graph_sha256`` names the file's SHA-256
    (a graph of your own: loaded with a warning); in either case a graph with an op
    outside :data:`ALLOWED_OPS` is refused before anything is imported (module docstring).
    """
    path = find_graph(graph_path)
    contents = path.read_bytes()
    provenance = _check_provenance(path, contents, own_graph_sha256)
    graph_def = _read_graph_def(path, contents, include_softmax_bias)
    check_allowed_ops(path, graph_def)
    forward = _wrap(_runnable_today(graph_def), include_softmax_bias)

    def run_batch(batch):
        features, probabilities = forward(tf.constant(to_rgb_255(batch)))
        return features.numpy(), probabilities.numpy()

    bias = "with" if include_softmax_bias else "without (as improved-gan)"
    which = "" if own_graph_sha256 is None else ": a graph of your own, not the published one"
    label = (
        f"Inception 2015-12-05 graph (TTUR FID / improved-gan IS){which}, its own 299×299 "
        f"TF1 bilinear resize, pool_3 features, softmax {bias} bias"
    )
    try:
        network = build_network("inception_2015", label, f"{path}; {provenance}", run_batch)
    except tf.errors.OpError as error:
        raise CorruptFeatureNetworkError(
            f"{path}: TensorFlow {tf.__version__} cannot run this graph "
            f"({type(error).__name__}: {_cause(error.message)})"
        ) from error
    return network


def _cause(message: str) -> str:
    """The informative line of a TensorFlow runtime error, without its boilerplate."""
    boilerplate = ("Graph execution error", "Detected at node", "<stack traces", "[[")
    lines = [line.strip() for line in message.splitlines()]
    causes = [line for line in lines if line and not line.startswith(boilerplate)]
    return causes[0] if causes else message


def find_graph(graph_path: Path | None) -> Path:
    """The ``.pb`` file; raises listing every place tried and how to obtain it."""
    if graph_path is None:
        tried = [f"{GRAPH_PARAM}: not set"]
    elif graph_path.is_file():
        return graph_path
    elif graph_path.is_dir():
        if (graph_path / GRAPH_FILE).is_file():
            return graph_path / GRAPH_FILE
        tried = [f"{GRAPH_PARAM} {graph_path}: a folder without {GRAPH_FILE}"]
    else:
        tried = [f"{GRAPH_PARAM} {graph_path}: not found"]
    raise not_found(
        f"the Inception 2015-12-05 graph {GRAPH_FILE}",
        tried,
        f"download {ARCHIVE_URL} where there is internet, extract the graph "
        f"(tar -xzf inception-2015-12-05.tgz {GRAPH_FILE}) and set {GRAPH_PARAM} in "
        "params.yaml to its path",
    )


def _check_provenance(path: Path, contents: bytes, own_graph_sha256: str | None) -> str:
    """How the file was verified; raises unless it is the published graph or the named one."""
    sha256 = hashlib.sha256(contents).hexdigest()
    if own_graph_sha256 is not None:
        if sha256 != own_graph_sha256.strip().lower():
            raise CorruptFeatureNetworkError(
                f"{path}: its SHA-256 is {sha256}, not {own_graph_sha256} as "
                f"{OWN_GRAPH_VARIABLE} says; set it to the hash of the graph you mean"
            )
        print(
            f"warning: {path} is a graph of your own (SHA-256 {sha256}), not the published "
            f"{GRAPH_FILE}: its FIDs and ISs are not comparable with published ones",
            file=sys.stderr,
        )
        return f"sha256 {sha256}, named by {OWN_GRAPH_VARIABLE}"
    md5 = hashlib.md5(contents, usedforsecurity=False).hexdigest()
    if len(contents) != PUBLISHED_GRAPH_SIZE or md5 != PUBLISHED_GRAPH_MD5:
        raise CorruptFeatureNetworkError(
            f"{path}: not the published {GRAPH_FILE} ({len(contents):,} bytes, MD5 {md5}; "
            f"the published file has {PUBLISHED_GRAPH_SIZE:,} bytes, MD5 "
            f"{PUBLISHED_GRAPH_MD5}); extract it again from {ARCHIVE_URL}, or, for a graph "
            f"of your own, set {OWN_GRAPH_VARIABLE}={sha256}"
        )
    return f"sha256 {sha256}; the published file (size and MD5 {md5} match)"


def check_allowed_ops(path: Path, graph_def: tf.compat.v1.GraphDef) -> None:
    """Raise :class:`UnsafeGraphError` naming every op outside :data:`ALLOWED_OPS`.

    Nodes of the graph's function library count too: a node can call a library function
    by name, so an op hidden there would otherwise run unseen.
    """
    nodes = [*graph_def.node]
    for function in graph_def.library.function:
        nodes.extend(function.node_def)
    refused = sorted({node.op for node in nodes} - ALLOWED_OPS)
    if refused:
        raise UnsafeGraphError(
            f"{path}: holds ops an Inception graph has no use for: {', '.join(refused)}; "
            f"nothing was run. Use {GRAPH_FILE} from {ARCHIVE_URL}"
        )


def _read_graph_def(
    path: Path, contents: bytes, include_softmax_bias: bool
) -> tf.compat.v1.GraphDef:
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(contents)
    except DecodeError as error:
        raise CorruptFeatureNetworkError(f"{path}: not a TensorFlow GraphDef ({error})") from None
    needed = [INPUT_TENSOR, POOL_TENSOR, LOGITS_MATMUL] + [BIASES_TENSOR] * include_softmax_bias
    present = {node.name for node in graph_def.node}
    missing = [name for name in needed if name.split(":")[0] not in present]
    if missing:
        raise CorruptFeatureNetworkError(
            f"{path}: has no {', '.join(missing)}; {GRAPH_FILE} from "
            f"inception-2015-12-05.tgz has them ({len(present)} nodes read)"
        )
    return graph_def


def _runnable_today(graph_def: tf.compat.v1.GraphDef) -> tf.compat.v1.GraphDef:
    """A copy without the batch-1 ``_output_shapes`` and without removed batch-norm ops."""
    runnable = tf.compat.v1.GraphDef()
    runnable.versions.CopyFrom(graph_def.versions)
    runnable.library.CopyFrom(graph_def.library)
    for node in graph_def.node:
        if node.op == OLD_BATCH_NORM:
            runnable.node.extend(_batch_norm_arithmetic(node))
        else:
            runnable.node.add().CopyFrom(node)
            runnable.node[-1].attr.pop("_output_shapes", None)
    return runnable


def _batch_norm_arithmetic(node: tf.compat.v1.NodeDef) -> list[tf.compat.v1.NodeDef]:
    """Nodes computing what the old kernel did; the last keeps the node's name.

    The kernel: ``(t - mean) * (rsqrt(variance + epsilon) * gamma) + beta``, with the
    ``gamma`` factor only when ``scale_after_normalization``.
    """
    t, mean, variance, beta, gamma = [name for name in node.input if not name.startswith("^")]
    controls = [name for name in node.input if name.startswith("^")]
    dtype = node.attr["T"].type
    scope = f"{node.name}/_gantrack"

    def arithmetic(name, op, *inputs):
        new = tf.compat.v1.NodeDef(name=name, op=op, input=list(inputs))
        new.attr["T"].type = dtype
        return new

    epsilon = tf.compat.v1.NodeDef(name=f"{scope}/epsilon", op="Const")
    epsilon.attr["dtype"].type = dtype
    epsilon.attr["value"].tensor.CopyFrom(
        tf.make_tensor_proto(node.attr["variance_epsilon"].f, tf.as_dtype(dtype))
    )
    nodes = [
        epsilon,
        arithmetic(f"{scope}/shifted_variance", "AddV2", variance, epsilon.name),
        arithmetic(f"{scope}/inverse_std", "Rsqrt", f"{scope}/shifted_variance"),
    ]
    scale = f"{scope}/inverse_std"
    if node.attr["scale_after_normalization"].b:
        nodes.append(arithmetic(f"{scope}/scale", "Mul", scale, gamma))
        scale = f"{scope}/scale"
    nodes += [
        arithmetic(f"{scope}/centred", "Sub", t, mean),
        arithmetic(f"{scope}/scaled", "Mul", f"{scope}/centred", scale),
        arithmetic(node.name, "AddV2", f"{scope}/scaled", beta, *controls),
    ]
    return nodes


def _wrap(graph_def: tf.compat.v1.GraphDef, include_softmax_bias: bool):
    """An eager function: images (N, H, W, 3) in [0, 255] -> (features, probabilities)."""
    outputs = [POOL_TENSOR, LOGITS_MATMUL] + [BIASES_TENSOR] * include_softmax_bias

    def forward(images):
        pool_3, matmul, *biases = tf.graph_util.import_graph_def(
            graph_def, input_map={INPUT_TENSOR: images}, return_elements=outputs, name="inception"
        )
        features = tf.squeeze(pool_3, axis=[1, 2])  # (N, 2048)
        logits = tf.matmul(features, matmul.inputs[1])  # (N, 1008)
        if biases:
            logits += biases[0]
        return features, tf.nn.softmax(logits)

    images = tf.TensorSpec((None, None, None, 3), tf.float32)
    return tf.compat.v1.wrap_function(forward, [images])
