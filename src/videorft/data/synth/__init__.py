"""The synthetic video suite: small mp4 files with exact ground truth in the real annotation formats.
See docs/synth.md."""

from videorft.data.synth.config import SynthConfig
from videorft.data.synth.scene import sample_indices
from videorft.data.synth.suite import SPLITS, split_sizes, synthesize
from videorft.data.synth.tasks import TASK_NAMES, get_task

__all__ = ["SPLITS", "TASK_NAMES", "SynthConfig", "get_task", "sample_indices", "split_sizes", "synthesize"]
