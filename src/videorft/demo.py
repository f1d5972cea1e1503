"""The demo: synthesise -> tiny model -> SFT cold start -> GRPO/T-GRPO -> held-out eval + shuffled control -> report.

Everything runs in-process on CPU through the same functions the CLI commands use; only sizes differ from a
7B run. Layout of ``out``::

    synth/                 the synthetic suite (videos + annotations + manifest)
    model/                 the random tiny Qwen2.5-VL ("base")
    checkpoints/{sft,rl}/  trained models
    stages/{base,sft,rl}/  held-out probe runs (ordered + shuffled frames), training logs
    summary.json           {"stages": {"base": {...}, "sft": {...}, "rl": {...}}, "seconds": t}
    report.html
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from videorft.dataclass_cli import option

STAGES = ("base", "sft", "rl")

#: The demo's suite (`SynthConfig` options; = configs/demo.yaml): temporal order is the only cue, options in
#: palette order so the answer is never in the text (why: docs/deviations.md, "Demo and study").
DEMO_SUITE: dict[str, Any] = {
    "order_choices": (2, 2),
    "order_questions": ("first",),
    "order_names": "colour",
    "order_options": "palette",
    "colours": ("red", "blue"),
    "shape_scale": 2.0,
}

#: The grounding demo's suite (= configs/demo_grounding.yaml): one large shape per video at fixed timing, so a
#: span's seconds follow from which sampled frames show it (why: docs/deviations.md, "Demo and study").
GROUNDING_SUITE: dict[str, Any] = {
    **DEMO_SUITE,
    "grounding_objects": (1, 1),
    "duration": (8.0, 8.0),
    "fps": (4, 4),
}


@dataclass
class DemoConfig:
    """Sizes and budgets of the demo; the defaults equal configs/demo.yaml (why each value: its comments and
    docs/deviations.md, "Demo and study")."""

    out: str = option("runs/demo", "Output folder.")
    seed: int = option(0, "Seed of the suite, the model and training.")
    tasks: tuple[str, ...] = option(("multiple_choice",), "Tasks trained and evaluated.")
    n_videos: int = option(1000, "Synthetic videos per task (80/10/10 split).")
    suite: dict[str, Any] = option(
        help="Options of the synthetic suite (`SynthConfig` fields); frames come from nframes.",
        factory=lambda: dict(DEMO_SUITE),
    )
    eval_limit: int = option(120, "Held-out test questions per task and stage.")
    eval_max_new_tokens: int = option(0, "Greedy decoding length at evaluation (0: completion tokens + 6).")
    nframes: int = option(8, "Frames the model sees (56x56 each).")
    template: str = option("short", "Prompt template (short: question, options).")
    prompt_style: str = option(
        "no_think", "no_think: '<answer>X</answer>' only (cheap on CPU); think: the papers' format."
    )
    sft_steps: int = option(120, "SFT cold-start steps.")
    sft_lr: float = option(1e-3, "SFT learning rate.")
    sft_answers: str = option(
        "random",
        "random: format-only cold start (random option letters); gold: train on the answers; per task: "
        "'temporal_grounding=gold,multiple_choice=random'.",
    )
    sft_batch: int = option(16, "SFT batch size.")
    rl_steps: int = option(300, "GRPO / T-GRPO steps.")
    rl_lr: float = option(3e-4, "GRPO learning rate.")
    rl_lr_scheduler: str = option("constant", "transformers lr_scheduler_type of RL.")
    rl_prompts: int = option(4, "Prompts per GRPO step.")
    num_generations: int = option(4, "G: completions per prompt.")
    rl_min_p: float = option(
        0.02, "min-p of RL sampling (0: off); keeps the format from the vocabulary's tail."
    )
    sampler_logprobs: bool = option(
        True, "Score completions under the distribution they were drawn from (CPUOptions)."
    )
    freeze_embeddings: bool = option(True, "RL leaves the token embeddings / output head fixed (CPUOptions).")
    balance_answers: bool = option(
        True, "Each RL step's prompts hold the gold letters in the data's proportions (CPUOptions)."
    )
    rl_iterations: int = option(1, "Policy updates per generated batch (TRL num_iterations, the papers' mu).")
    temporal: bool = option(True, "T-GRPO (shuffled-frame contrast) instead of GRPO.")
    shuffle_unit: str = option("temporal_patch", "T-GRPO shuffle unit: temporal_patch | frame.")
    temporal_mu: float = option(0.8, "T-GRPO mu.")
    timing_in_prompt: bool = option(False, "Frame timestamps in the prompt.")
    beta: float = option(0.0, "KL coefficient (0: no reference model).")
    reward_clip_to_duration: bool = option(
        True, "RL's temporal IoU clips spans to the video (False: VideoChat-R1's, as the metric)."
    )
    max_completion_length: int = option(
        0, "Tokens per completion (0: what the tasks' answers need: 10 or 24)."
    )
    save_steps: int = option(
        50, "Checkpoint each training stage every N steps; a rerun resumes from the newest (0: never)."
    )
    threads: int = option(0, "torch intra-op threads (0: the CPUs other work leaves idle, at least 1).")
    quick: bool = option(False, "A shortened run (a few minutes) for CI.")

    def __post_init__(self) -> None:
        from videorft.training.sft_answers import answer_modes

        answer_modes(self.sft_answers)  # a bad spec fails here, before the suite is synthesised
        self.tasks = tuple(self.tasks)  # YAML gives lists
        self.suite = {k: tuple(v) if isinstance(v, list) else v for k, v in self.suite.items()}
        if self.quick:  # CI: the whole pipeline, a fraction of the compute
            self.n_videos, self.eval_limit = min(self.n_videos, 120), min(self.eval_limit, 24)
            self.sft_steps, self.rl_steps = min(self.sft_steps, 70), min(self.rl_steps, 12)


#: ``videorft demo --task NAME`` -> the DemoConfig fields that differ from the order demo's defaults
DEMO_TASKS: dict[str, dict[str, Any]] = {
    "order": {},
    # a gold cold start of 300 steps: the first that used the video (docs/deviations.md, "Demo and study")
    "grounding": {
        "tasks": ("temporal_grounding",),
        "suite": GROUNDING_SUITE,
        "sft_answers": "gold",
        "sft_steps": 300,
        "rl_lr": 1e-4,  # 3e-4 drifted off the video (docs/results_grounding.md)
    },
}


#: The demo's settings files in a source checkout (`make demo`): demo.yaml, then demo_<task>.yaml on top. An
#: installed package without them uses DemoConfig's defaults and DEMO_TASKS, which equal them (tests/demo).
CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


def demo_config(task: str = "order", config: str | None = None, **fields: Any) -> DemoConfig:
    """The demo of ``task`` (a key of DEMO_TASKS) from its YAML files (or the ``config`` file), with ``fields``
    changed on top of it."""
    from dataclasses import fields as dataclass_fields

    from videorft.dataclass_cli import read_config

    if task not in DEMO_TASKS:
        raise ValueError(f"unknown demo task {task!r}; valid: {', '.join(DEMO_TASKS)}")
    names = {f.name for f in dataclass_fields(DemoConfig)}
    files = [Path(config)] if config else [CONFIG_DIR / "demo.yaml", CONFIG_DIR / f"demo_{task}.yaml"]
    files = [f for f in files if f == Path(config or "") or f.is_file()]
    values: dict[str, Any] = {} if files else dict(DEMO_TASKS[task])
    for path in files:
        values.update(read_config(path, names))
    return DemoConfig(**{**values, **fields})


def completion_tokens(cfg: DemoConfig) -> int:
    """RL completion budget: ``max_completion_length``, or what the tasks' answers need (resolved at use, so
    ``dataclasses.replace(cfg, tasks=...)`` gets the budget of its own tasks)."""
    return cfg.max_completion_length or (10 if set(cfg.tasks) <= {"multiple_choice"} else 24)


#: DemoConfig fields a rerun in the same folder may change: they do not change what the stages produce.
RERUN_MAY_CHANGE = frozenset({"out", "threads", "save_steps"})


def check_same_demo(out: Path, cfg: DemoConfig) -> None:
    """Refuse to continue a demo folder made under other settings: its finished stages are reused as they
    are, so their results would be reported under settings that did not make them."""
    from videorft.run_folder import RunFolderError, list_differences

    try:
        saved = json.loads((out / "demo_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # a new folder (or one from before the file existed)
    now = json.loads(json.dumps(asdict(cfg)))  # tuples as JSON lists, as saved
    diffs = [
        f"{k}: saved {saved[k]!r}, now {now[k]!r}"
        for k in now
        if k in saved and k not in RERUN_MAY_CHANGE and saved[k] != now[k]
    ]
    if diffs:
        raise RunFolderError(
            f"{out} holds a demo made with other settings ({list_differences(diffs)}): rerun with its settings "
            "to continue it, or pass another --out"
        )


def run_demo(cfg: DemoConfig, console: Any = None) -> dict[str, Any]:
    """Run every stage; returns (and writes) ``summary.json``."""
    from rich.console import Console

    from videorft.data.synth import synthesize
    from videorft.evaluation.report import write_report
    from videorft.models import init_model
    from videorft.runtime import available_cpus, reuse_freed_memory, use_cpu_threads

    check_same_demo(Path(cfg.out), cfg)
    console = console or Console(stderr=True)
    started = time.perf_counter()
    threads = use_cpu_threads(cfg.threads)
    reuse_freed_memory()
    console.print(
        f"torch threads: {threads} of {available_cpus()} CPUs (load {os.getloadavg()[0]:.1f}; --threads to change)"
    )
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "demo_config.json").write_text(json.dumps(asdict(cfg), indent=2))

    def stage(title: str) -> None:
        console.rule(f"[bold]{title}[/bold]  ({time.perf_counter() - started:.0f} s)")

    # each stage whose output exists is skipped: a rerun of an interrupted demo continues
    stage("1/6 synthesise the video suite")
    suite = out / "synth"
    if not (suite / "videorft_data.yaml").exists():
        synthesize(
            suite, n=cfg.n_videos, seed=cfg.seed, tasks=list(cfg.tasks), frames=cfg.nframes, **cfg.suite
        )
    stage("2/6 create the tiny random Qwen2.5-VL")
    base = out / "model"
    if not (base / "config.json").exists():
        init_model("tiny", base, seed=cfg.seed, overwrite=True)

    results: dict[str, dict[str, Any]] = {}
    stage("3/6 evaluate the base model (held-out, ordered and shuffled frames)")
    results["base"] = _evaluate(cfg, base, suite, out / "stages" / "base")
    stage("4/6 SFT cold start")
    sft = _train(cfg, "sft", base, suite, out)
    results["sft"] = _evaluate(cfg, sft, suite, out / "stages" / "sft")
    stage(f"5/6 {'T-GRPO' if cfg.temporal else 'GRPO'}")
    if cfg.rl_steps > 0:
        results["rl"] = _evaluate(cfg, _train(cfg, "rl", sft, suite, out), suite, out / "stages" / "rl")
    else:  # an SFT-only arm of the study: the "rl" stage is the SFT checkpoint
        shutil.copytree(out / "stages" / "sft", out / "stages" / "rl", dirs_exist_ok=True)
        results["rl"] = results["sft"]

    stage("6/6 report")
    report = write_report([out / "stages" / s for s in STAGES], out / "report.html", title="videorft demo")
    summary = {
        "stages": results,
        "seconds": round(time.perf_counter() - started, 1),
    }  # the contract: no other keys
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    console.print(summary_table(summary))
    if "temporal_grounding" in cfg.tasks:  # the bar a model that ignores the video can reach
        miou, a, b = best_constant_span(heldout_records(cfg, suite))
        console.print(f"best constant span on these questions: {a:.2f} to {b:.2f} s, mIoU {miou:.3f}")
    console.print(f"report: {report}")
    return summary


def summary_table(summary: dict[str, Any]) -> Any:
    """Held-out metrics of the three checkpoints, side by side (rich table)."""
    from rich.table import Table

    table = Table(title=f"held-out test split ({summary['seconds']:.0f} s)")
    table.add_column("metric")
    for s in STAGES:
        table.add_column(s, justify="right")
    stages = summary["stages"]
    # row name -> where its value sits in a stage's results
    rows = {
        "reward": ("reward",),
        "accuracy (shuffled frames)": ("control", "shuffled"),
        "ordered - shuffled gap": ("control", "gap"),
    }
    for task, metrics in stages["base"].items():
        if task != "control" and isinstance(metrics, dict):
            rows.update({f"{task}/{m}": (task, m) for m in metrics if m != "n"})
    for name, path in rows.items():
        values = []
        for s in STAGES:
            v: Any = stages[s]
            for key in path:
                v = v.get(key) if isinstance(v, dict) else None
            values.append(f"{v:.3f}" if isinstance(v, float) else ("-" if v is None else str(v)))
        table.add_row(name, *values)
    return table


def demo_data_args(cfg: DemoConfig, suite: Path, split: str = "train") -> Any:
    """The demo's ``VideoDataArguments`` for a synthetic suite: its tasks, frames, 56x56 pixels and prompt."""
    from videorft.training.config import VideoDataArguments

    side = 56 * 56
    return VideoDataArguments(
        data=str(suite),
        split=split,
        tasks=list(cfg.tasks),
        nframes=cfg.nframes,
        min_pixels=side,
        max_pixels=side,
        template=cfg.template,
        prompt_style=cfg.prompt_style,
        timing_in_prompt=cfg.timing_in_prompt,
        reward_clip_to_duration=cfg.reward_clip_to_duration,
    )


def _train(cfg: DemoConfig, stage: str, model: Path, suite: Path, out: Path) -> Path:
    """The ``sft`` or ``rl`` stage: trains ``model`` into ``out/checkpoints/<stage>`` (unless a final model is
    already there) and copies its training log to ``out/stages/<stage>``."""
    from trl import ModelConfig

    from videorft.runtime import RichStepProgress
    from videorft.training.config import VideoGRPOConfig, VideoSFTConfig
    from videorft.training.cpu_trainer import CPUOptions
    from videorft.training.output_dir import complete_checkpoints
    from videorft.training.run import train_grpo, train_sft

    ckpt = out / "checkpoints" / stage
    if not (ckpt / "model.safetensors").exists():
        # an interrupted stage resumes from its newest checkpoint; a folder without one is trained again
        resume = bool(complete_checkpoints(ckpt))  # none in a missing or fresh folder
        common = dict(
            output_dir=str(ckpt),
            use_cpu=True,
            logging_steps=5,
            save_strategy="steps" if cfg.save_steps else "no",
            save_steps=cfg.save_steps or 500,
            save_total_limit=1,
            report_to="none",
            seed=cfg.seed,
            gradient_checkpointing=False,  # recomputation only costs time at this size
            disable_tqdm=True,  # RichStepProgress shows steps and ETA
        )
        data, model_args = demo_data_args(cfg, suite), ModelConfig(model_name_or_path=str(model))
        if stage == "sft":
            args = VideoSFTConfig(
                **common,
                per_device_train_batch_size=cfg.sft_batch,
                learning_rate=cfg.sft_lr,
                lr_scheduler_type="constant_with_warmup",
                warmup_steps=min(10, cfg.sft_steps // 4),
                max_steps=cfg.sft_steps,
                sft_answers=cfg.sft_answers,
                # decoding and encoding the next batches in a worker process overlaps the training step
                dataloader_num_workers=1,
                dataloader_persistent_workers=True,
            )
            progress = RichStepProgress("SFT", metric="loss")
            train_sft(data, args, model_args, callbacks=[progress], resume=resume, overwrite=not resume)
        else:
            args = VideoGRPOConfig(
                **common,
                per_device_train_batch_size=cfg.rl_prompts * cfg.num_generations,
                num_generations=cfg.num_generations,
                num_iterations=cfg.rl_iterations,
                max_completion_length=completion_tokens(cfg),
                temperature=1.0,
                top_p=1.0,  # sorting 152k logits for top-p costs more than the model on CPU; min-p needs no sort
                min_p=cfg.rl_min_p or None,
                beta=cfg.beta,
                loss_type="grpo",
                scale_rewards="group",
                learning_rate=cfg.rl_lr,
                lr_scheduler_type=cfg.rl_lr_scheduler,
                max_steps=cfg.rl_steps,
                temporal=cfg.temporal,
                shuffled_generations=cfg.num_generations // 2,
                shuffle_unit=cfg.shuffle_unit,
                temporal_mu=cfg.temporal_mu,
            )
            progress = RichStepProgress("T-GRPO" if cfg.temporal else "GRPO", metric="reward")
            cpu = CPUOptions(cfg.sampler_logprobs, cfg.freeze_embeddings, cfg.balance_answers)
            train_grpo(
                data,
                args,
                model_args,
                callbacks=[progress],
                cpu_options=cpu,
                resume=resume,
                overwrite=not resume,
            )
        for done in ckpt.glob("checkpoint-*"):  # the final model is saved: they only held the way there
            shutil.rmtree(done)
    logs = out / "stages" / stage
    logs.mkdir(parents=True, exist_ok=True)
    if (ckpt / "train_log.jsonl").exists():
        shutil.copy(ckpt / "train_log.jsonl", logs / "train_log.jsonl")
    return ckpt


def _evaluate(cfg: DemoConfig, model_dir: Path, suite: Path, out: Path) -> dict[str, Any]:
    """Held-out metrics (ordered frames) plus the shuffled-frame control, through the probe."""
    from videorft.evaluation.probe import probe
    from videorft.evaluation.runner import Decoding
    from videorft.models.loading import load_model, load_processor
    from videorft.video import FrameBudget

    records = heldout_records(cfg, suite)
    side = 56 * 56
    report = probe(
        load_model(str(model_dir)),
        load_processor(str(model_dir)),
        records,
        budget=FrameBudget(nframes=cfg.nframes, min_pixels=side, max_pixels=side),
        variants=("ordered", "shuffled"),
        prompt=demo_data_args(cfg, suite).prompt_spec(),
        batch_size=16,
        decoding=Decoding(
            max_new_tokens=cfg.eval_max_new_tokens or completion_tokens(cfg) + 6, greedy=True, seed=cfg.seed
        ),
        out_dir=out / "probe",
        n_boot=1000,
    )
    stage = dict(report["variants"]["ordered"]["metrics"])
    stage["reward"] = mean_reward(
        out / "probe" / "ordered" / "predictions.jsonl", think=cfg.prompt_style == "think"
    )
    stage["control"] = {
        "ordered": report["variants"]["ordered"]["score"],
        "shuffled": report["variants"]["shuffled"]["score"],
        "gap": report["gap"]["ordered_minus_shuffled"],
        "gap_ci95": report["gap"]["ci95"],
    }
    return stage


def heldout_records(cfg: DemoConfig, suite: Path) -> list[Any]:
    """The held-out questions every stage is scored on: the first ``eval_limit`` test records of each task
    (the test split lists tasks one after another)."""
    from videorft.data.loaders import load_spec

    test = load_spec(str(suite), split="test").records
    return [rec for task in cfg.tasks for rec in [r for r in test if r.task == task][: cfg.eval_limit]]


def best_constant_span(records: list[Any], step: float = 0.25) -> tuple[float, float, float]:
    """(mIoU, start, end) of the one time span that scores best on every grounding record of ``records``
    (a grid of ``step`` seconds, scored as the evaluation scores, clipped to each video's duration): what a
    model that ignores the video can reach at best."""
    from videorft.rewards.rules import temporal_iou

    grounding = [r for r in records if r.task == "temporal_grounding"]
    if not grounding:
        raise ValueError("best_constant_span: no temporal_grounding record among the held-out questions")
    longest = max(float(r.meta.get("duration") or max(r.solution)) for r in grounding)
    grid = [i * step for i in range(int(longest / step) + 1)]
    best = (-1.0, 0.0, 0.0)
    for a in grid:
        for b in grid:
            if b <= a:
                continue
            answer = f"<answer>{a:.2f} to {b:.2f}</answer>"
            score = sum(temporal_iou(answer, r.solution, **r.meta) for r in grounding) / len(grounding)
            best = max(best, (score, a, b))
    return best


def mean_reward(predictions: Path, think: bool = True) -> float:
    """Mean total task reward (format + accuracy, the training reward) of a predictions file."""
    from videorft.evaluation.predictions import read_predictions
    from videorft.rewards import score
    from videorft.rewards.tasks import reward_meta

    rows = read_predictions(predictions).rows
    totals = [
        score(r["task"], r["completion"], r["solution"], think=think, **reward_meta(r))["total"] for r in rows
    ]
    return sum(totals) / len(totals) if totals else 0.0
