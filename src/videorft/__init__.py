"""videorft: reinforcement fine-tuning (SFT -> GRPO / T-GRPO) of video multimodal LLMs."""

__version__ = "0.1.0"
