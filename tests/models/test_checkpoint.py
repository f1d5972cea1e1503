"""Size registry, random-weight checkpoint folders, offline reload, determinism, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from videorft.cli.main import main as cli_main
from videorft.models import SIZES, ModelSize, build_config, get_size, init_model
from videorft.models.sizes import VOCAB_3B


def test_get_size_error_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="unknown model size 'huge'; valid sizes: tiny, small, 7b"):
        get_size("huge")


def test_size_validation_catches_bad_mrope_sections() -> None:
    with pytest.raises(ValueError, match=r"mrope_section \[4, 6, 4\] must sum to head_dim / 2 = 16"):
        ModelSize(
            name="bad",
            description="",
            hidden_size=128,
            num_hidden_layers=1,
            num_attention_heads=4,
            num_key_value_heads=2,
            intermediate_size=64,
            mrope_section=(4, 6, 4),
        )


def test_7b_config_is_qwen25_vl_7b_instruct_shape() -> None:
    config = build_config("7b")  # config only: the 7b model is never instantiated on CPU
    text, vision = config.text_config, config.vision_config
    assert (text.hidden_size, text.num_hidden_layers, text.num_attention_heads, text.num_key_value_heads) == (
        3584,
        28,
        28,
        4,
    )
    assert text.intermediate_size == 18944 and text.vocab_size == 152064
    assert text.rope_parameters["mrope_section"] == [16, 24, 24]
    assert text.rope_parameters["rope_theta"] == 1e6
    assert (vision.depth, vision.hidden_size, vision.out_hidden_size, vision.num_heads) == (
        32,
        1280,
        3584,
        16,
    )
    assert list(vision.fullatt_block_indexes) == [7, 15, 23, 31] and vision.window_size == 112
    assert (vision.patch_size, vision.temporal_patch_size, vision.spatial_merge_size) == (14, 2, 2)
    assert config.tie_word_embeddings is False
    assert (config.image_token_id, config.video_token_id) == (151655, 151656)
    assert (config.vision_start_token_id, config.vision_end_token_id) == (151652, 151653)


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_cpu_sizes_share_the_real_vocabulary(name: str) -> None:
    config = build_config(name)
    assert config.text_config.vocab_size == VOCAB_3B >= 151665  # every tokenizer id has a row
    assert config.tie_word_embeddings is True
    assert config.vision_config.out_hidden_size == config.text_config.hidden_size


def test_tiny_folder_is_complete(tiny_model_dir: Path) -> None:
    names = {p.name for p in tiny_model_dir.iterdir()}
    expected = {
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "chat_template.jinja",
        "processor_config.json",
        "preprocessor_config.json",
        "video_preprocessor_config.json",
        "videorft.json",
    }
    assert expected <= names
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["architectures"] == ["Qwen2_5_VLForConditionalGeneration"]
    video = json.loads((tiny_model_dir / "video_preprocessor_config.json").read_text())
    assert video["do_sample_frames"] is False and video["do_resize"] is False
    generation = json.loads((tiny_model_dir / "generation_config.json").read_text())
    assert generation["eos_token_id"] == [151645, 151643] and generation["pad_token_id"] == 151643


_RELOAD = """
import json, sys
from transformers import AutoModelForImageTextToText, AutoProcessor
folder = sys.argv[1]
processor = AutoProcessor.from_pretrained(folder)
model = AutoModelForImageTextToText.from_pretrained(folder)
print(json.dumps({
    "model": type(model).__name__,
    "processor": type(processor).__name__,
    "video_processor": type(processor.video_processor).__name__,
    "hello": processor.tokenizer("Hello world").input_ids,
    "video_pad": processor.tokenizer.convert_tokens_to_ids("<|video_pad|>"),
    "template_has_video": "<|video_pad|>" in (processor.chat_template or ""),
    "params": sum(p.numel() for p in model.parameters()),
}))
"""


def test_reloads_with_the_hub_unreachable(tiny_model_dir: Path) -> None:
    # A fresh interpreter, so the offline switches are read at import; the endpoint is a dead port.
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_ENDPOINT": "http://127.0.0.1:9",
    }
    done = subprocess.run(
        [sys.executable, "-c", _RELOAD, str(tiny_model_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads(done.stdout.strip().splitlines()[-1])
    meta = json.loads((tiny_model_dir / "videorft.json").read_text())
    assert info["model"] == "Qwen2_5_VLForConditionalGeneration"
    assert info["processor"] == "Qwen2_5_VLProcessor"
    assert info["video_processor"] == "Qwen2VLVideoProcessor"
    assert info["hello"] == [9707, 1879] and info["video_pad"] == 151656
    assert info["template_has_video"] is True
    assert info["params"] == meta["num_parameters"]


def test_same_seed_same_bytes_other_seed_other_weights(tmp_path: Path) -> None:
    # one folder through the CLI, one through the API: same seed must give identical safetensors
    assert cli_main(["model", "init", "--size", "tiny", "--out", str(tmp_path / "a"), "--seed", "7"]) == 0
    init_model("tiny", tmp_path / "b", seed=7)
    init_model("tiny", tmp_path / "c", seed=8)
    a, b, c = ((tmp_path / d / "model.safetensors").read_bytes() for d in "abc")
    assert a == b
    assert a != c and len(a) == len(c)


def test_seed_does_not_touch_global_rng(tmp_path: Path) -> None:
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    init_model("tiny", tmp_path / "m", seed=0)
    assert torch.equal(torch.rand(3), expected)


def test_refuses_non_empty_folder_unless_overwrite(tmp_path: Path, capsys) -> None:
    out = tmp_path / "m"
    out.mkdir()
    (out / "model-00001-of-00002.safetensors").write_bytes(b"stale shard")
    with pytest.raises(FileExistsError, match="not empty"):
        init_model("tiny", out)
    assert cli_main(["model", "init", "--size", "tiny", "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    init_model("tiny", out, overwrite=True)
    assert not (out / "model-00001-of-00002.safetensors").exists()  # stale shards would mix in
    assert (out / "model.safetensors").is_file()


def test_sizes_registry_names() -> None:
    assert list(SIZES) == ["tiny", "small", "7b"]
    assert all(get_size(name) is size for name, size in SIZES.items())
