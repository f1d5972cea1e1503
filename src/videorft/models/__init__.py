"""Offline Qwen2.5 tokenizer, random-weight Qwen2.5-VL checkpoints, loading and processor glue.

Importing this package is cheap; torch/transformers load when a function needs them.
"""

from videorft.models.checkpoint import build_config, build_processor, init_model
from videorft.models.sizes import SIZES, ModelSize, get_size

__all__ = ["SIZES", "ModelSize", "build_config", "build_processor", "get_size", "init_model"]
