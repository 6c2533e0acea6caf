"""Training settings, presets and weight resolution (no torch needed for any of these)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields

import pytest

from mh_assets.core.modelling import (
    MissingWeightsError,
    TrainingConfig,
    preset_config,
    resolve_model_dir,
)
from mh_assets.core.modelling.config import MINILM_NAME, PAPER_NAME, PRESETS
from mh_assets.core.modelling.weights import PAPER_DIR_ENV, minilm_dir


def test_importing_the_config_does_not_import_torch():
    code = (
        "import sys; import mh_assets.core.modelling, mh_assets.core.modelling.config, "
        "mh_assets.core.modelling.weights; "
        "heavy = ('torch', 'transformers', 'tokenizers', 'sentence_transformers'); "
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_paper_preset_has_the_study_hyperparameters():
    config = preset_config("paper")
    assert (config.backbone, config.model_name) == ("pretrained", PAPER_NAME)
    assert config.max_length == 256
    assert config.mlm_probability == 0.15
    assert (config.mlm_lr, config.contrastive_lr) == (5e-5, 1e-5)
    assert config.temperature == 0.05
    assert (config.mlm_epochs, config.contrastive_epochs) == (2, 2)
    assert (config.mlm_batch_size, config.contrastive_batch_size) == (8, 8)


def test_demo_is_the_default_and_trains_from_scratch():
    config = preset_config()
    assert (config.preset, config.backbone, config.model_name) == ("demo", "scratch", None)
    assert config.augmentation == "code_subset" and config.min_kept_share == 0.3
    assert config.eval_fraction == 0.1 and config.group_by_length and config.bf16 == "auto"


def test_every_setting_can_be_overridden_on_every_preset():
    base = TrainingConfig()
    for name in PRESETS:
        for f in fields(TrainingConfig):
            if f.name in ("preset", "backbone", "model_name"):
                continue
            value = getattr(base, f.name)
            changed = _another_valid_value(f.name, value)
            config = preset_config(name, **{f.name: changed})
            assert getattr(config, f.name) == changed, f.name
            assert config.preset == name


def _another_valid_value(name, value):
    if name == "augmentation":
        return "word_shuffle"
    if name in ("bf16", "full_determinism"):
        return False
    if name == "model_path":
        return "/models/x"
    if name == "representation":
        return "descriptors" if value == "transformer" else "transformer"
    if name == "hidden_size":
        return 256
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1 if name != "num_attention_heads" else 8
    if isinstance(value, float):
        return value / 2
    raise AssertionError(f"no alternative value for {name}")


def test_unknown_settings_are_rejected_by_name():
    with pytest.raises(TypeError, match="mlm_learning_rate"):
        preset_config("demo", mlm_learning_rate=1e-4)
    with pytest.raises(ValueError, match="unknown preset"):
        preset_config("large")


@pytest.mark.parametrize(
    "override",
    [
        {"augmentation": "synonyms"},
        {"eval_fraction": 1.0},
        {"temperature": 0.0},
        {"max_dropped_codes": -1},
        {"contrastive_batch_size": 1},
        {"hidden_size": 130, "num_attention_heads": 4},
        {"bf16": "yes"},
    ],
)
def test_invalid_settings_fail_with_the_setting_named(override):
    with pytest.raises(ValueError, match=next(iter(override))):
        preset_config("demo", **override)


def test_minilm_resolves_to_the_packaged_weights():
    path = resolve_model_dir(preset_config("minilm"), env={})
    assert path == minilm_dir()
    assert "site-packages" in str(path) and (path / "model.safetensors").is_file()
    assert preset_config("minilm").model_name == MINILM_NAME


def test_scratch_backbone_needs_no_weights():
    assert resolve_model_dir(preset_config("demo"), env={}) is None


def test_paper_weights_are_found_in_the_env_dir(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"")
    env = {PAPER_DIR_ENV: str(tmp_path), "HF_HOME": str(tmp_path / "hf")}
    assert resolve_model_dir(preset_config("paper"), env=env) == tmp_path


def test_paper_weights_are_found_in_the_hugging_face_cache(tmp_path):
    snapshot = tmp_path / "hub" / "models--microsoft--deberta-v3-base" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (snapshot / "pytorch_model.bin").write_bytes(b"")
    assert resolve_model_dir(preset_config("paper"), env={"HF_HOME": str(tmp_path)}) == snapshot


def test_missing_paper_weights_name_every_place_looked_and_the_fix(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {PAPER_DIR_ENV: str(empty), "HF_HOME": str(tmp_path / "hf")}
    with pytest.raises(MissingWeightsError) as caught:
        resolve_model_dir(preset_config("paper"), env=env)
    message = str(caught.value)
    assert str(empty) in message and PAPER_DIR_ENV in message
    assert str(tmp_path / "hf" / "hub" / "models--microsoft--deberta-v3-base") in message
    assert "download microsoft/deberta-v3-base" in message


def test_an_explicit_model_path_that_is_missing_fails(tmp_path):
    config = preset_config("paper", model_path=str(tmp_path / "nowhere"))
    with pytest.raises(MissingWeightsError, match="nowhere"):
        resolve_model_dir(config, env={})
