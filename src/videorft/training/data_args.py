"""`VideoDataArguments`: which data to train on, how frames are sampled, how prompts and rewards are built.

Kept apart from `config.py` (which subclasses TRL's configs) so that parsers that only need the data fields
(`videorft export verl`) do not import TRL and torch to build `--help`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from videorft.data.prompts import PromptSpec


@dataclass
class VideoDataArguments:
    """Which data to train on, how frames are sampled, and how prompts and rewards are built."""

    data: str | None = field(
        default=None,
        metadata={
            "help": "Dataset spec: FORMAT:PATH (e.g. videor1:/data/Video-R1-260k.json) or a folder with a "
            "videorft_data.yaml manifest (e.g. the output of `videorft data synth`)."
        },
    )
    split: str = field(default="train", metadata={"help": "Split of a manifest dataset to train on."})
    video_root: str | None = field(
        default=None, metadata={"help": "Folder that relative video paths resolve against."}
    )
    tasks: list[str] | None = field(default=None, metadata={"help": "Keep only these tasks (default: all)."})
    limit: int | None = field(
        default=None, metadata={"help": "Use at most this many records (after task filter)."}
    )
    skip_invalid: bool = field(
        default=True,
        metadata={
            "help": "Skip malformed records and unreadable videos (counted and reported) instead of failing."
        },
    )
    allow_outside_root: bool = field(
        default=False,
        metadata={
            "help": "Let relative media paths leave the dataset root through '..' (refused by default)."
        },
    )
    # Frames and pixels (qwen-vl-utils semantics; applied before the processor).
    fps: float = field(default=2.0, metadata={"help": "Frames sampled per second of video."})
    nframes: int | None = field(
        default=None, metadata={"help": "Sample exactly this many frames (overrides fps)."}
    )
    min_frames: int = field(default=4, metadata={"help": "Lower bound on sampled frames."})
    max_frames: int = field(
        default=16, metadata={"help": "Upper bound on sampled frames (Video-R1 trains with 16)."}
    )
    min_pixels: int = field(default=16 * 28 * 28, metadata={"help": "Lower bound on pixels per frame."})
    max_pixels: int = field(
        default=128 * 28 * 28, metadata={"help": "Upper bound on pixels per frame (Video-R1: 128*28*28)."}
    )
    total_pixels: int | None = field(
        default=None,
        metadata={
            "help": "Pixel budget for the whole video, divided across frames (VideoChat-R1: 3584*28*28)."
        },
    )
    # Prompts.
    template: str | None = field(
        default=None,
        metadata={"help": "Prompt template name or path to a .jinja file (default: the task's own)."},
    )
    prompt_style: str = field(
        default="think", metadata={"help": "'think' (<think> then <answer>) or 'no_think'."}
    )
    timing_in_prompt: bool = field(
        default=False,
        metadata={"help": "Add the video's duration, sampling fps and frame timestamps to the prompt."},
    )
    system_prompt: str | None = field(
        default=None,
        metadata={
            "help": "System message. None: the chat template's default ('You are a helpful assistant.'), as in both "
            "papers' RL; Video-R1's SFT script sets 'You are a helpful assistant' (configs/video_r1_sft_7b.yaml)."
        },
    )
    # Rewards.
    use_format_reward: bool = field(
        default=True, metadata={"help": "Include the format component in the reward."}
    )
    judge: str = field(default="offline", metadata={"help": "Caption judge: 'offline' (MiniLM) or 'openai'."})
    reward_funcs: list[str] = field(
        default_factory=list,
        metadata={
            "help": "More reward functions, each named by file path and function ('my_rewards.py:fn', as EasyR1): "
            "TRL reward functions (prompts, completions, **columns) -> list[float | None], added to the task "
            "reward (GRPOConfig's reward_weights can weigh them)."
        },
    )
    reward_original_rule: bool = field(
        default=False,
        metadata={
            "help": "Score with the original reward code's rules where videorft's differ (docs/deviations.md, "
            "Rewards): Video-R1's format regex, exact multiple-choice strings, numerical and regression rules; "
            "VideoChat-R1's time-pair and glue regexes, grounding-QA letter, exactly 8 tracking boxes."
        },
    )
    reward_answer_block: str | None = field(
        default=None,
        metadata={
            "help": "Which `<answer>`/`<glue>` block a reward reads when a completion has several. None: what each "
            "original reads (the first; VideoChat-R1's temporal IoU the last); 'last' reads the final answer.",
            "choices": ["first", "last"],
        },
    )
    reward_clip_to_duration: bool = field(
        default=True,
        metadata={
            "help": "Temporal IoU clips both intervals to the video's duration and rejects a ground truth that "
            "starts after the end (False: VideoChat-R1's unclipped IoU)."
        },
    )

    def __post_init__(self) -> None:
        if self.prompt_style not in ("think", "no_think"):
            raise ValueError(f"prompt_style must be 'think' or 'no_think', got {self.prompt_style!r}")
        if self.nframes is not None and self.nframes < 2:
            raise ValueError(
                f"nframes must be >= 2 (Qwen2.5-VL's temporal patch is 2 frames), got {self.nframes}"
            )
        if self.min_frames > self.max_frames:
            raise ValueError(f"min_frames ({self.min_frames}) > max_frames ({self.max_frames})")
        from videorft.rewards.registry import load_function

        for spec in self.reward_funcs:
            load_function(spec)  # a missing file or function fails here, before any model loads
        if self.reward_answer_block not in (None, "first", "last"):
            raise ValueError(
                f"reward_answer_block must be 'first' or 'last', got {self.reward_answer_block!r}"
            )

    def reward_options(self) -> dict[str, Any]:
        """The reward switches (``videorft.rewards.tasks.REWARD_OPTIONS``) set away from the defaults."""
        from videorft.rewards.tasks import reward_switches

        return reward_switches(
            self.reward_original_rule, self.reward_answer_block, self.reward_clip_to_duration
        )

    def prompt_spec(self) -> PromptSpec:
        """The prompt settings as one ``PromptSpec``."""
        from videorft.data.prompts import PromptSpec

        return PromptSpec(self.template, self.prompt_style, self.timing_in_prompt, self.system_prompt)
