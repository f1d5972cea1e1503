"""load_model / load_processor: local folders, hub ids, and clear errors for bad sources."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from videorft.models.loading import ModelLoadError, load_model, load_processor, resolve_model_source


def test_loads_folder_as_path_or_string(tiny_model_dir: Path) -> None:
    model = load_model(str(tiny_model_dir), dtype="bfloat16")
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert model.dtype == torch.bfloat16 and not model.training
    processor = load_processor(tiny_model_dir)
    assert processor.tokenizer.convert_tokens_to_ids("<|im_end|>") == 151645


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="checkpoint folder not found"):
        load_model(tmp_path / "nope")
    with pytest.raises(ModelLoadError, match="checkpoint folder not found"):
        load_processor("./runs/nope")


def test_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    f = tmp_path / "model.safetensors"
    f.write_bytes(b"")
    with pytest.raises(ModelLoadError, match="must be a folder"):
        load_model(f)


def test_incomplete_folders_name_what_is_missing(tiny_model_dir: Path, tmp_path: Path) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(tiny_model_dir / "config.json", partial)
    with pytest.raises(ModelLoadError, match=r"partial: incomplete model folder, missing model weights"):
        load_model(partial)
    with pytest.raises(ModelLoadError, match=r"missing tokenizer\.json, processor_config\.json"):
        load_processor(partial)


def test_truncated_weights_give_a_load_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(
        ModelLoadError, match=r"broken: could not load the model \(model\.safetensors; truncated"
    ):
        load_model(broken)


def test_hub_ids_pass_through_and_fail_clearly_offline(monkeypatch) -> None:
    assert resolve_model_source("Qwen/Qwen2.5-VL-7B-Instruct") == ("Qwen/Qwen2.5-VL-7B-Instruct", False)
    with pytest.raises(ModelLoadError, match="not a hub id"):
        resolve_model_source("not a/valid/id")
    # the test session runs with HF_HUB_OFFLINE=1 (tests/conftest.py): a hub id cannot resolve
    with pytest.raises(ModelLoadError, match="could not load it from the Hugging Face hub"):
        load_processor("videorft-test-org/no-such-model")


def test_bad_dtype_name(tiny_model_dir: Path) -> None:
    with pytest.raises(ValueError, match="unknown dtype 'float33'"):
        load_model(tiny_model_dir, dtype="float33")
