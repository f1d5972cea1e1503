"""Registry of Qwen2.5-VL shapes for random-weight checkpoints (pure data: no torch import)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Qwen2.5-VL-3B pads its 151,665-token vocabulary to a multiple of 128; the 7B uses 152,064.
VOCAB_3B = 151936
VOCAB_7B = 152064

# The image-processor pixel range of the released Qwen2.5-VL checkpoints (qwen-vl-utils' defaults).
QWEN_MIN_PIXELS = 4 * 28 * 28
QWEN_MAX_PIXELS = 16384 * 28 * 28


@dataclass(frozen=True)
class ModelSize:
    """Shape of one Qwen2.5-VL variant: text decoder, vision tower, vocabulary and processor budget."""

    name: str
    description: str
    # text decoder
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    intermediate_size: int
    mrope_section: tuple[int, int, int]
    rope_theta: float = 1e6
    max_position_embeddings: int = 128000
    rms_norm_eps: float = 1e-6
    vocab_size: int = VOCAB_3B
    tie_word_embeddings: bool = True
    # vision tower (defaults: the tiny size's)
    vision_depth: int = 2
    vision_hidden_size: int = 64
    vision_num_heads: int = 4
    vision_intermediate_size: int = 128
    window_size: int = 56
    fullatt_block_indexes: tuple[int, ...] = (1,)
    tokens_per_second: int = 2
    # weights are written in this dtype
    dtype: str = "float32"
    # image processor pixel range (videos are resized by videorft.video, not by the processor)
    image_min_pixels: int = QWEN_MIN_PIXELS
    image_max_pixels: int = 256 * 28 * 28
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        head_dim, rem = divmod(self.hidden_size, self.num_attention_heads)
        if rem:
            raise ValueError(f"size {self.name!r}: hidden_size must be divisible by num_attention_heads")
        # M-RoPE splits the rotary half-dimension into (temporal, height, width) sections.
        if sum(self.mrope_section) * 2 != head_dim:
            raise ValueError(
                f"size {self.name!r}: mrope_section {list(self.mrope_section)} must sum to head_dim / 2 = {head_dim // 2}"
            )
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                f"size {self.name!r}: num_attention_heads must be a multiple of num_key_value_heads"
            )
        if self.vision_hidden_size % self.vision_num_heads:
            raise ValueError(f"size {self.name!r}: vision_hidden_size must be divisible by vision_num_heads")
        if any(i >= self.vision_depth for i in self.fullatt_block_indexes):
            raise ValueError(f"size {self.name!r}: fullatt_block_indexes must be < vision_depth")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


SIZES: dict[str, ModelSize] = {
    size.name: size
    for size in (
        ModelSize(
            name="tiny",
            description="~20M parameters (19.4M of them the tied embedding); a training step takes well under a second on CPU",
            hidden_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            intermediate_size=384,
            mrope_section=(4, 6, 6),
            max_position_embeddings=32768,
        ),
        ModelSize(
            name="small",
            description="~43M parameters; still CPU-runnable, for longer CPU experiments",
            hidden_size=256,
            num_hidden_layers=4,
            num_attention_heads=8,
            num_key_value_heads=2,
            intermediate_size=768,
            mrope_section=(4, 6, 6),
            max_position_embeddings=32768,
            vision_depth=4,
            vision_hidden_size=128,
            vision_intermediate_size=256,
            window_size=112,
            fullatt_block_indexes=(1, 3),
        ),
        ModelSize(
            name="7b",
            description="the exact shape of Qwen2.5-VL-7B-Instruct (~8.3B parameters, bf16); GPU only",
            hidden_size=3584,
            num_hidden_layers=28,
            num_attention_heads=28,
            num_key_value_heads=4,
            intermediate_size=18944,
            mrope_section=(16, 24, 24),
            vocab_size=VOCAB_7B,
            tie_word_embeddings=False,
            vision_depth=32,
            vision_hidden_size=1280,
            vision_num_heads=16,
            vision_intermediate_size=3420,
            window_size=112,
            fullatt_block_indexes=(7, 15, 23, 31),
            dtype="bfloat16",
            image_max_pixels=QWEN_MAX_PIXELS,
        ),
    )
}


def get_size(name: str) -> ModelSize:
    """The registered size called ``name``; the error lists the valid names."""
    try:
        return SIZES[name]
    except KeyError:
        raise ValueError(f"unknown model size {name!r}; valid sizes: {', '.join(SIZES)}") from None
