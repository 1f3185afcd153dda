import math
from pathlib import Path

import pytest
import yaml

from gantrack.config import ConfigError, flatten_params, load_params, parse_params


def test_repository_params_are_valid(repo_root):
    params = load_params(repo_root / "params.yaml")
    # The repository's own file must parse: learning rates written as floats, not strings.
    assert isinstance(params.train.generator_learning_rate, float)
    assert 0 < params.train.generator_learning_rate < 1
    assert params.data.dataset == "mnist_5k"


def test_config_is_frozen(params):
    with pytest.raises(ValueError, match="frozen"):
        params.train.epochs = 3


def error_for(raw) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_params(raw)
    return str(caught.value)


@pytest.mark.parametrize(
    "epochs, images, steps", [(12, 48_000, None), (None, None, None), (12, None, 3_000)]
)
def test_training_length_is_exactly_one_of_epochs_images_steps(raw_params, epochs, images, steps):
    raw_params["train"].update(epochs=epochs, images=images, steps=steps)
    assert "training's length is exactly one of them" in error_for(raw_params)


@pytest.mark.parametrize("length", ["epochs", "images", "steps"])
def test_training_length_may_be_given_in_epochs_images_or_steps(raw_params, length):
    raw_params["train"].update(epochs=None, images=None, steps=None)
    raw_params["train"][length] = 48
    assert getattr(parse_params(raw_params).train, length) == 48


def test_unknown_key_names_path_and_allowed_keys(raw_params):
    raw_params["train"]["epoch"] = 50
    message = error_for(raw_params)
    assert "train.epoch = 50: unknown key" in message
    assert "allowed here:" in message and "epochs" in message


def test_unknown_top_level_section(raw_params):
    raw_params["trian"] = {"epochs": 3}
    message = error_for(raw_params)
    assert "trian" in message and "unknown key" in message and "train" in message


def test_float_written_without_dot_is_read_as_the_float_meant(raw_params):
    raw_params["train"]["generator_learning_rate"] = "2e-4"  # what YAML makes of 2e-4
    raw_params["train"]["ema_decay"] = "999E-3"
    raw_params["evaluate"]["fid_confidence"] = " 95e-2 "
    params = parse_params(raw_params)
    assert params.train.generator_learning_rate == pytest.approx(2e-4)
    assert params.train.ema_decay == pytest.approx(0.999)
    assert params.evaluate.fid_confidence == pytest.approx(0.95)


def test_params_yaml_may_write_2e_minus_4(repo_root, tmp_path):
    text = (repo_root / "params.yaml").read_text()
    text = text.replace("generator_learning_rate: 1.0e-4", "generator_learning_rate: 2e-4")
    assert "generator_learning_rate: 2e-4" in text
    (tmp_path / "params.yaml").write_text(text)
    assert load_params(tmp_path / "params.yaml").train.generator_learning_rate == 2e-4


@pytest.mark.parametrize("value", ["fast", "2e-4x", "1,5", "", "inf", "nan", "0x10"])
def test_a_string_that_is_not_a_number_is_refused_for_a_float(raw_params, value):
    raw_params["train"]["r1_gamma"] = value
    message = error_for(raw_params)
    assert f"train.r1_gamma = {value!r} (str): not a number" in message


def test_a_numeric_string_that_overflows_is_not_finite(raw_params):
    raw_params["train"]["r1_gamma"] = "1e400"
    assert "train.r1_gamma = '1e400' (str): not a finite number" in error_for(raw_params)


def test_numeric_strings_stay_refused_for_integers_and_booleans(raw_params):
    raw_params["train"]["latent_dim"] = "1e2"
    raw_params["train"]["spectral_norm"] = "1"
    message = error_for(raw_params)
    assert "train.latent_dim = '1e2' (str): Input should be a valid integer" in message
    assert "train.spectral_norm = '1' (str): Input should be a valid boolean" in message


@pytest.mark.parametrize("value", [True, False, "auto"])
def test_xla_is_true_false_or_auto(raw_params, value):
    raw_params["train"]["xla"] = value
    assert parse_params(raw_params).train.xla == value


def test_xla_refuses_other_words_and_true_with_distribution(raw_params):
    raw_params["train"]["xla"] = "yes"
    assert "train.xla" in error_for(raw_params)
    raw_params["train"].update(xla=True, distribute="mirrored")
    assert "set train.xla: false to distribute" in error_for(raw_params)
    raw_params["train"]["xla"] = "auto"  # auto takes the plain step under a strategy
    assert parse_params(raw_params).train.xla == "auto"


def test_yaml_reads_2e_minus_4_as_string():
    # The premise of the message above, checked against the YAML library itself.
    assert yaml.safe_load("x: 2e-4")["x"] == "2e-4"
    assert yaml.safe_load("x: 2.0e-4")["x"] == pytest.approx(2.0e-4)


def test_out_of_range_value_names_bound(raw_params):
    raw_params["data"]["test_fraction"] = 1.5
    assert "data.test_fraction = 1.5 (float): Input should be less than 1" in error_for(raw_params)


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("train", "epochs", 2.5),  # float for int
        ("train", "epochs", "3"),  # string for int: no coercion
        ("evaluator", "augment", 1),  # int for bool
        ("train", "loss", "wasserstein"),  # unknown variant name
        ("data", "dataset", "cifar"),
    ],
)
def test_wrong_types_and_names_are_rejected(raw_params, section, key, value):
    raw_params[section][key] = value
    assert f"{section}.{key} = {value!r}" in error_for(raw_params)


def test_variant_error_lists_valid_names(raw_params):
    raw_params["train"]["loss"] = "wasserstein"
    assert "'non_saturating', 'minimax', 'wgan_gp'" in error_for(raw_params)


def test_missing_key_is_reported(raw_params):
    del raw_params["sample"]["seed"]
    assert "sample.seed: required key is missing" in error_for(raw_params)


def test_all_problems_reported_in_one_message(raw_params):
    raw_params["train"]["epochs"] = 0
    raw_params["sample"]["num_images"] = -1
    message = error_for(raw_params)
    assert "train.epochs" in message and "sample.num_images" in message


def test_mnist_5k_rejects_a_source(raw_params):
    raw_params["data"]["source"] = "/tmp/mnist.npz"
    assert "source must be null for mnist_5k" in error_for(raw_params)


def test_non_mapping_file(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_params(path)


def test_invalid_yaml_and_missing_file(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(path)
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "absent.yaml")


def test_flatten_params_uses_dotted_names_from_params_yaml(params, raw_params):
    flat = flatten_params(params)
    assert flat["train.epochs"] == raw_params["train"]["epochs"]
    assert flat["paths.metrics"] == raw_params["paths"]["metrics"]
    assert flat["data.source"] is None
    expected_keys = {
        f"{section}.{key}" if isinstance(values, dict) else section
        for section, values in raw_params.items()
        for key in (values if isinstance(values, dict) else [None])
    }
    assert set(flat) == expected_keys


def test_best_generator_needs_in_training_evaluation(raw_params):
    raw_params["sample"]["generator"] = "best"
    raw_params["train"]["eval_every"] = 0
    message = error_for(raw_params)
    assert "sample.generator is 'best' but train.eval_every is 0" in message
    assert message.count("{") == 0  # the rule's message, not a dump of the section


def test_inception_networks_validated(raw_params):
    raw_params["evaluate"]["inception_networks"] = ["inception_v3", "inception_v3"]
    assert "lists a name twice" in error_for(raw_params)
    raw_params["evaluate"]["inception_networks"] = ["inception_v4"]
    assert "'inception_v3' or 'inception_2015'" in error_for(raw_params)
    raw_params["evaluate"]["inception_networks"] = ["inception_2015"]
    assert parse_params(raw_params).evaluate.networks == ("evaluator", "inception_2015")


@pytest.mark.parametrize("name", ["has space", "", "../escape", 7])
def test_registered_model_name_is_checked(raw_params, name):
    raw_params["mlflow"]["registered_model"] = name
    assert f"mlflow.registered_model = {name!r}" in error_for(raw_params)


def test_registered_model_may_be_turned_off(raw_params, params):
    assert params.mlflow.registered_model == "gantrack-generator"
    raw_params["mlflow"]["registered_model"] = None
    assert parse_params(raw_params).mlflow.registered_model is None
    assert flatten_params(params)["mlflow.registered_model"] == "gantrack-generator"
    assert params.paths.run_records.name == "runs"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("loss", "wgan", "'wgan_gp', 'hinge' or 'least_squares'"),
        ("diffaugment", ["flip"], "train.diffaugment.0 = 'flip' (str)"),
        ("critic_steps", 0, "train.critic_steps = 0 (int)"),
        ("ema_decay", 1.0, "train.ema_decay = 1.0 (float)"),
        ("label_smoothing", 0.5, "train.label_smoothing = 0.5 (float)"),
        ("r1_gamma", -1.0, "train.r1_gamma = -1.0 (float)"),
        ("gradient_penalty_weight", -1.0, "train.gradient_penalty_weight = -1.0"),
        ("spectral_norm", 1, "train.spectral_norm = 1 (int)"),
        ("conditional", "yes", "train.conditional = 'yes' (str)"),
        ("mixed_precision", 0, "train.mixed_precision = 0 (int)"),
        ("checkpoint_every", -1, "train.checkpoint_every = -1 (int)"),
    ],
)
def test_training_variant_params_are_validated(raw_params, key, value, expected):
    raw_params["train"][key] = value
    assert expected in error_for(raw_params)


def test_training_variant_defaults_keep_the_plain_game(params):
    train = params.train
    assert train.loss == "non_saturating" and train.critic_steps == 1
    # Conditional at batch 16 by default: the recipe study's winner (reports/recipes.md);
    # the generator's weight average: the steadier study's (studies/steadier.yaml).
    assert train.conditional and train.batch_size == 16 and train.xla == "auto"
    assert not (train.spectral_norm or train.mixed_precision)
    assert train.ema_decay == 0.999 and train.diffaugment == [] and train.r1_gamma == 0.0
    assert train.label_smoothing == 0.0 and params.sample.label is None


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"loss": "hinge", "label_smoothing": 0.1}, "only applies to non_saturating or minimax"),
        ({"loss": "wgan_gp", "r1_gamma": 1.0}, "use one penalty"),
        ({"diffaugment": ["cutout", "cutout"]}, "lists a policy twice"),
        ({"xla": True, "distribute": "mirrored"}, "set train.xla: false to distribute"),
    ],
)
def test_senseless_combinations_are_rejected(raw_params, changes, expected):
    raw_params["train"].update(changes)
    assert expected in error_for(raw_params)


def test_sample_label_needs_a_conditional_generator(raw_params):
    raw_params["sample"]["label"] = 3
    raw_params["train"]["conditional"] = False
    assert "sample.label is 3 but train.conditional is false" in error_for(raw_params)
    raw_params["train"]["conditional"] = True
    parse_params(raw_params)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("image_size", 48, "data.image_size = 48 (int): Input should be 28, 32 or 64"),
        ("image_size", "32", "data.image_size = '32'"),
        ("channels", 2, "data.channels = 2 (int): Input should be 1 or 3"),
        ("on_unreadable", "ignore", "data.on_unreadable = 'ignore' (str): Input should be"),
    ],
)
def test_data_size_channels_and_unreadable_policy_validated(raw_params, key, value, message):
    raw_params["data"][key] = value
    assert message in error_for(raw_params)


@pytest.mark.parametrize(("image_size", "channels"), [(28, 1), (32, 3), (64, 1), (64, 3)])
def test_supported_sizes_and_channels_are_accepted(raw_params, image_size, channels):
    raw_params["data"].update(image_size=image_size, channels=channels)
    data = parse_params(raw_params).data
    assert (data.image_size, data.channels) == (image_size, channels)


@pytest.mark.parametrize(("dataset", "kind"), [("image_folder", "folder"), ("npz", ".npz file")])
def test_own_data_needs_a_source(raw_params, dataset, kind):
    raw_params["data"].update(dataset=dataset, source=None)
    message = error_for(raw_params)
    assert f"dataset {dataset} needs source" in message and kind in message
    raw_params["data"]["source"] = "/data/mine"
    assert parse_params(raw_params).data.source == Path("/data/mine")


@pytest.mark.parametrize("dataset", ["mnist_5k", "image_folder", "npz"])
def test_canonical_split_only_for_datasets_that_publish_one(raw_params, dataset):
    source = None if dataset == "mnist_5k" else "/data/mine"
    raw_params["data"].update(dataset=dataset, source=source, split="canonical")
    assert f"{dataset} has no published test split" in error_for(raw_params)


def test_cifar10_with_canonical_split_and_no_source_is_valid(raw_params):
    raw_params["data"].update(dataset="cifar10", split="canonical", image_size=32, channels=3)
    data = parse_params(raw_params).data
    assert data.dataset == "cifar10" and data.source is None


def numeric_fields() -> list[tuple[str, str, type]]:
    """(section, key, int or float) of every numeric key of params.yaml's sections."""
    from gantrack.config import Params

    found = []
    for section, section_field in Params.model_fields.items():
        model = section_field.annotation
        if not isinstance(model, type):
            continue
        for key, field in getattr(model, "model_fields", {}).items():
            text = str(field.annotation)
            kind = float if "float" in text else int if "int" in text else None
            if kind is not None and "list" not in text:
                found.append((section, key, kind))
    return found


NUMERIC_FIELDS = numeric_fields()


def test_the_numeric_fields_are_found():
    assert ("train", "latent_dim", int) in NUMERIC_FIELDS
    assert ("train", "r1_gamma", float) in NUMERIC_FIELDS
    assert len(NUMERIC_FIELDS) > 40


@pytest.mark.parametrize(
    ("section", "key"), [(s, k) for s, k, kind in NUMERIC_FIELDS if kind is float]
)
@pytest.mark.parametrize("value", [math.inf, -math.inf])
def test_every_float_refuses_infinity(raw_params, section, key, value):
    raw_params[section][key] = value
    assert f"{section}.{key} = {value!r} (float): not a finite number" in error_for(raw_params)


@pytest.mark.parametrize(
    ("section", "key"), [(s, k) for s, k, kind in NUMERIC_FIELDS if kind is float]
)
def test_nan_is_called_not_a_number(raw_params, section, key):
    raw_params[section][key] = math.nan
    message = error_for(raw_params)
    assert f"{section}.{key} = nan (float): not a number (NaN)" in message
    assert "less than" not in message and "greater than" not in message


@pytest.mark.parametrize(
    ("section", "key"), [(s, k) for s, k, kind in NUMERIC_FIELDS if kind is int and s != "seed"]
)
def test_every_integer_has_an_upper_bound(raw_params, section, key):
    raw_params[section][key] = 10**30
    assert f"{section}.{key} = {10**30!r} (int): Input should be less than" in error_for(raw_params)


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("train", "generator_learning_rate", math.inf),
        ("train", "r1_gamma", math.inf),
        ("train", "latent_dim", 10**12),
        ("train", "batch_size", 10**30),
    ],
)
def test_the_reported_values_are_refused(raw_params, section, key, value):
    raw_params[section][key] = value
    assert f"{section}.{key} = {value!r}" in error_for(raw_params)


def test_the_top_level_seed_has_an_upper_bound(raw_params):
    raw_params["seed"] = 2**32
    assert "seed = 4294967296 (int): Input should be less than or equal to" in error_for(raw_params)


def test_the_sanity_bounds_keep_the_repository_params_and_tiny_params(raw_params):
    from support.pipeline_repo import TINY

    for section, values in TINY.items():
        raw_params[section].update(values)
    parse_params(raw_params)


def test_the_old_networks_section_names_its_new_name(raw_params):
    raw_params["networks"] = raw_params.pop("feature_networks")
    message = error_for(raw_params)
    assert "networks: this section is now called feature_networks" in message
    assert message.count("\n") == 1  # that one line, not a list of missing keys besides


def test_every_config_field_has_a_description():
    from pydantic import BaseModel

    from gantrack.config import Params

    missing = []
    for section, section_field in Params.model_fields.items():
        model = section_field.annotation
        fields = {section: section_field}
        if isinstance(model, type) and issubclass(model, BaseModel):
            fields = {f"{section}.{key}": field for key, field in model.model_fields.items()}
        missing += [name for name, field in fields.items() if not (field.description or "").strip()]
    assert not missing, f"config fields without Field(description=...): {missing}"
