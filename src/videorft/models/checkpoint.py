"""Random-weight Qwen2.5-VL checkpoint folders, written offline (``videorft model init``).

A folder holds what the Hugging Face hub copy of Qwen2.5-VL-7B-Instruct holds: config.json,
generation_config.json, model.safetensors, tokenizer files, chat_template.jinja, processor_config.json
(with stand-alone preprocessor_config.json and video_preprocessor_config.json), and ``videorft.json``
(size, seed, parameter count).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from videorft.files import write_json
from videorft.models.sizes import ModelSize, get_size
from videorft.models.tokenizer import CHAT_TEMPLATE, SPECIAL_TOKENS, build_qwen_tokenizer

if TYPE_CHECKING:
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLProcessor

PATCH_SIZE = 14
TEMPORAL_PATCH_SIZE = 2
MERGE_SIZE = 2
# Only informative: our video processor does not resize (videorft.video already did, to multiples
# of 28 within VideoChat-R1's per-frame bounds); these are the bounds it would apply if re-enabled.
VIDEO_MIN_PIXELS = 4 * 28 * 28
VIDEO_MAX_PIXELS = 768 * 28 * 28

METADATA_FILE = "videorft.json"


def build_config(size: ModelSize | str) -> Qwen2_5_VLConfig:
    """The ``Qwen2_5_VLConfig`` of a registered size (token ids are Qwen2.5-VL's real ones)."""
    from transformers import Qwen2_5_VLConfig

    s = get_size(size) if isinstance(size, str) else size
    text_config: dict[str, Any] = {
        "vocab_size": s.vocab_size,
        "hidden_size": s.hidden_size,
        "intermediate_size": s.intermediate_size,
        "num_hidden_layers": s.num_hidden_layers,
        "num_attention_heads": s.num_attention_heads,
        "num_key_value_heads": s.num_key_value_heads,
        "hidden_act": "silu",
        "max_position_embeddings": s.max_position_embeddings,
        "rms_norm_eps": s.rms_norm_eps,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": s.rope_theta,
            "mrope_section": list(s.mrope_section),
        },
        "use_sliding_window": False,
        "sliding_window": 32768,
        "max_window_layers": s.num_hidden_layers,
        "attention_dropout": 0.0,
        "bos_token_id": SPECIAL_TOKENS["<|endoftext|>"],
        "eos_token_id": SPECIAL_TOKENS["<|im_end|>"],
        "pad_token_id": SPECIAL_TOKENS["<|endoftext|>"],
        "tie_word_embeddings": s.tie_word_embeddings,
        "dtype": s.dtype,
    }
    vision_config: dict[str, Any] = {
        "depth": s.vision_depth,
        "hidden_size": s.vision_hidden_size,
        "intermediate_size": s.vision_intermediate_size,
        "num_heads": s.vision_num_heads,
        "hidden_act": "silu",
        "in_channels": 3,
        "patch_size": PATCH_SIZE,
        "spatial_merge_size": MERGE_SIZE,
        "temporal_patch_size": TEMPORAL_PATCH_SIZE,
        "tokens_per_second": s.tokens_per_second,
        "window_size": s.window_size,
        "out_hidden_size": s.hidden_size,  # the merger projects straight into the text width
        "fullatt_block_indexes": list(s.fullatt_block_indexes),
        "dtype": s.dtype,
    }
    return Qwen2_5_VLConfig(
        text_config=text_config,
        vision_config=vision_config,
        image_token_id=SPECIAL_TOKENS["<|image_pad|>"],
        video_token_id=SPECIAL_TOKENS["<|video_pad|>"],
        vision_start_token_id=SPECIAL_TOKENS["<|vision_start|>"],
        vision_end_token_id=SPECIAL_TOKENS["<|vision_end|>"],
        tie_word_embeddings=s.tie_word_embeddings,
        dtype=s.dtype,
    )


def build_processor(size: ModelSize | str = "tiny") -> Qwen2_5_VLProcessor:
    """Qwen2.5-VL's processor: our tokenizer, Qwen's image processor, a non-resampling video processor."""
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor
    from transformers.image_utils import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD

    s = get_size(size) if isinstance(size, str) else size
    common = {
        "patch_size": PATCH_SIZE,
        "temporal_patch_size": TEMPORAL_PATCH_SIZE,
        "merge_size": MERGE_SIZE,
        "image_mean": list(OPENAI_CLIP_MEAN),  # Qwen2.5-VL normalises with OpenAI CLIP's statistics
        "image_std": list(OPENAI_CLIP_STD),
    }
    image_processor = Qwen2VLImageProcessor(
        min_pixels=s.image_min_pixels, max_pixels=s.image_max_pixels, **common
    )
    # videorft.video samples frames and resizes them to multiples of 28 within the pixel budget
    # (qwen-vl-utils' rules); the processor must neither resample nor resize them again.
    video_processor = Qwen2VLVideoProcessor(
        min_pixels=VIDEO_MIN_PIXELS,
        max_pixels=VIDEO_MAX_PIXELS,
        do_resize=False,
        do_sample_frames=False,
        cap_pixels_per_frame=False,
        **common,
    )
    return Qwen2_5_VLProcessor(
        image_processor=image_processor,
        tokenizer=build_qwen_tokenizer(),
        video_processor=video_processor,
        chat_template=CHAT_TEMPLATE,
    )


def init_model(size: str, out: str | Path, seed: int = 0, *, overwrite: bool = False) -> Path:
    """Write a complete random-weight checkpoint folder for ``size``; same seed -> identical weights.

    Refuses a non-empty ``out`` unless ``overwrite`` (stale shards would otherwise mix in).
    """
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration

    spec = get_size(size)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out}: directory is not empty (pass overwrite=True / --force to replace it)")
    out.mkdir(parents=True, exist_ok=True)
    if overwrite:
        for old in out.glob("*.safetensors*"):
            old.unlink()

    config = build_config(spec)
    dtype = getattr(torch, spec.dtype)
    # fork_rng: seeding must not leak into the caller's global RNG state
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=dtype)
    model.generation_config = GenerationConfig(
        bos_token_id=SPECIAL_TOKENS["<|endoftext|>"],
        eos_token_id=[SPECIAL_TOKENS["<|im_end|>"], SPECIAL_TOKENS["<|endoftext|>"]],
        pad_token_id=SPECIAL_TOKENS["<|endoftext|>"],
    )
    model.save_pretrained(out)
    processor = build_processor(spec)
    processor.save_pretrained(out)
    # transformers 5 keeps both processor configs inside processor_config.json; the stand-alone
    # files are what the hub copy of Qwen2.5-VL has and what older readers (vLLM, transformers 4) look for.
    processor.image_processor.save_pretrained(out)
    processor.video_processor.save_pretrained(out)
    meta = {
        "size": spec.name,
        "seed": seed,
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "dtype": spec.dtype,
    }
    write_json(out / METADATA_FILE, meta)
    return out
