"""The reference pages follow the code: a changed param, parser or metric fails until the
pages are regenerated (``python -m gantrack.docs_reference``), and a field without a
description cannot be documented at all."""

import argparse

import pytest
import yaml
from pydantic import Field

from gantrack import docs_reference
from gantrack.config import Params, TrainConfig
from gantrack.docs_reference import (
    REFERENCE_DIR,
    UndocumentedFieldError,
    cli_reference,
    generate,
    params_reference,
    stale_pages,
)

REGENERATE = "run `python -m gantrack.docs_reference` and commit docs/reference/"


def test_the_committed_reference_pages_match_the_code(repo_root):
    assert stale_pages(repo_root) == [], REGENERATE


def test_a_changed_default_in_params_yaml_makes_the_params_page_stale(repo_root, tmp_path):
    for name in ("params.yaml", "dvc.yaml"):
        (tmp_path / name).write_text((repo_root / name).read_text())
    (tmp_path / "src/gantrack").mkdir(parents=True)
    (tmp_path / REFERENCE_DIR).mkdir(parents=True)
    for name, text in generate(tmp_path).items():
        (tmp_path / REFERENCE_DIR / name).write_text(text)
    assert stale_pages(tmp_path) == []
    raw = yaml.safe_load((tmp_path / "params.yaml").read_text())
    raw["train"]["latent_dim"] = 128
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    assert stale_pages(tmp_path) == ["params.md"]


def test_every_key_of_params_yaml_is_on_the_params_page(raw_params):
    page = params_reference(raw_params)
    for section, values in raw_params.items():
        keys = [f"{section}.{key}" for key in values] if isinstance(values, dict) else [section]
        for key in keys:
            assert f"| `{key}` |" in page, key
    assert "| `train.latent_dim` | int | `100` | ≥ 1; ≤ 4096 |" in page
    assert "`non_saturating`, `minimax`, `wgan_gp`" in page


def test_a_field_without_a_description_stops_the_generator(raw_params):
    class Undocumented(TrainConfig):
        brand_new_knob: int = Field(ge=0)

    class UndocumentedParams(Params):
        train: Undocumented = Field(description="the GAN")

    raw_params["train"]["brand_new_knob"] = 1
    with pytest.raises(UndocumentedFieldError, match=r"train\.brand_new_knob has no description"):
        params_reference(raw_params, UndocumentedParams)


def test_a_new_command_line_option_makes_the_cli_page_differ(monkeypatch):
    before = cli_reference()
    from gantrack.cli import push

    original = push.build_parser

    def build_parser() -> argparse.ArgumentParser:
        parser = original()
        parser.add_argument("--dry-run", action="store_true", help="say what would be sent")
        return parser

    monkeypatch.setattr(push, "build_parser", build_parser)
    after = cli_reference()
    assert after != before and "| `--dry-run` | (flag) |  | say what would be sent |" in after


def test_every_command_has_a_parser_and_a_section():
    from gantrack.__main__ import COMMANDS

    page = cli_reference()
    for name in COMMANDS:
        assert f"## {name}\n" in page and f"usage: python -m gantrack {name}" in page


def test_check_mode_exits_1_on_a_stale_page(repo_root, tmp_path, capsys):
    for name in ("params.yaml", "dvc.yaml"):
        (tmp_path / name).write_text((repo_root / name).read_text())
    (tmp_path / "src/gantrack").mkdir(parents=True)
    assert docs_reference.main(["--root", str(tmp_path), "--check"]) == 1
    assert "does not match the code" in capsys.readouterr().err
    assert docs_reference.main(["--root", str(tmp_path)]) == 0
    assert docs_reference.main(["--root", str(tmp_path), "--check"]) == 0
