"""The synthetic spatio-temporal video suite: small real mp4 files with exact ground truth, written in
the real annotation formats (charades_json, got10k_json/got10k_dir, videor1, nextgqa_json,
quality_json, caption_json) so every loader is exercised. See docs/synth.md."""

from videorft.data.synth.config import SynthConfig
from videorft.data.synth.scene import sample_indices
from videorft.data.synth.suite import SPLITS, split_sizes, synthesize
from videorft.data.synth.tasks import TASK_NAMES, get_task

__all__ = ["SPLITS", "TASK_NAMES", "SynthConfig", "get_task", "sample_indices", "split_sizes", "synthesize"]
