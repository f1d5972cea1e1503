"""From an ``EvalConfig`` to what the runner needs: records, frame budget, a generator.

Module-level imports stay light (no numpy, video or model code) so a CLI can check its config
through here before anything heavy loads.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from videorft.data.errors import SkipReport
from videorft.data.record import Record
from videorft.evaluation.config import EvalConfig, config_from_args, resolve_backend

if TYPE_CHECKING:
    from videorft.evaluation.runner import Generator

C = TypeVar("C", bound=EvalConfig)


def cli_config(cls: type[C], args: argparse.Namespace) -> C:
    """The checked config of a CLI run: required fields set, backend usable (before loading anything).

    Raises ValueError, TypeError or FileNotFoundError (a bad ``--config`` file) with a readable message.
    """
    cfg = cast(C, config_from_args(cls, args))  # it builds an instance of ``cls``
    cfg.check_required()
    resolve_backend(cfg.backend)
    return cfg


@dataclass
class LoadedData:
    records: list[Record]
    skipped: list[SkipReport] = field(default_factory=list)
    n_available: int = 0


def load_data(cfg: EvalConfig) -> LoadedData:
    """Records of ``cfg.data`` (first ``cfg.limit``); malformed records raise unless skip_invalid."""
    from videorft.data.loaders import load_spec

    result = load_spec(
        cfg.data,
        split=cfg.split,
        video_root=cfg.video_root,
        skip_invalid=cfg.skip_invalid,
        allow_outside_root=cfg.allow_outside_root,
    )
    records = result.records if cfg.limit is None else result.records[: cfg.limit]
    if result.skipped:
        print(result.summary(), file=sys.stderr)
    return LoadedData(records, list(result.skipped), len(result.records))


def open_generator(cfg: EvalConfig) -> tuple[Generator, Any]:
    """(generator, processor) for ``cfg.model`` on the configured backend."""
    import torch

    from videorft.evaluation.runner import HFGenerator, OpenAIGenerator, VLLMGenerator
    from videorft.models.loading import load_model, load_processor

    processor = load_processor(cfg.model)
    backend = resolve_backend(cfg.backend)
    if backend == "openai":
        return OpenAIGenerator(str(cfg.base_url), cfg.served_model or cfg.model), processor
    if backend == "vllm":
        from videorft.models.vllm_engine import max_model_len_for
        from videorft.video import FrameBudget

        max_len = max_model_len_for(FrameBudget.from_settings(cfg), cfg.max_new_tokens)
        gen = VLLMGenerator(cfg.model, processor, dtype=cfg.dtype, seed=cfg.seed, max_model_len=max_len)
        return gen, processor
    device = cfg.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = cfg.dtype or ("bfloat16" if device.startswith("cuda") else "float32")
    model = load_model(cfg.model, dtype=dtype, device=device)
    return HFGenerator(model, processor), processor


def runner_options(cfg: EvalConfig, data: LoadedData) -> dict[str, Any]:
    """Keyword arguments that ``run_eval`` and ``probe`` both take, from the config."""
    from videorft.evaluation.runner import Decoding
    from videorft.video import FrameBudget

    return {
        "budget": FrameBudget.from_settings(cfg),
        "prompt": cfg.prompt_spec(),
        "shuffle_unit": cfg.shuffle_unit,
        "batch_size": cfg.batch_size,
        "decoding": Decoding(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(Decoding)}),
        "out_dir": cfg.out,
        "overwrite": cfg.overwrite,
        "progress": cfg.progress,
        "protocol_extra": {
            # where each setting came from (command line, --config, the checkpoint's training config, default)
            "settings_source": dict(cfg.sources),
            "data": {
                "spec": cfg.data,
                "split": cfg.split,
                "video_root": cfg.video_root,
                "limit": cfg.limit,
                "n_available": data.n_available,
                "n_invalid_skipped": len(data.skipped),
            },
        },
    }
