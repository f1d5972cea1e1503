"""Image rows through the vLLM path, alone and in one batch with a video row (Video-R1 mixes images into video
training): the HF processor's ids and the model's log-probs."""

from __future__ import annotations

import numpy as np
import pytest
import torch  # noqa: E402
import vllm  # noqa: F401, E402 - conftest leaves this module out where vLLM is absent
from PIL import Image  # noqa: E402

from videorft.data.record import Record  # noqa: E402
from videorft.inputs import SampleEncoder  # noqa: E402
from videorft.models import vllm_engine  # noqa: E402
from videorft.models.loading import load_model, load_processor  # noqa: E402
from videorft.models.processing import mm_token_type_ids  # noqa: E402
from videorft.video import FrameBudget  # noqa: E402

from .conftest import LOGPROB_TOL  # noqa: E402

pytestmark = pytest.mark.slow


def _image_record(tmp_path) -> Record:
    path = tmp_path / "img.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (112, 140, 3), dtype=np.uint8)).save(path)
    return Record(
        id="img", task="multiple_choice", problem="What is shown?", solution="A",
        image=str(path), options=["A. noise", "B. a cat"],
    )  # fmt: skip


def _check_against_hf(llm, tiny_model_dir, records: list[Record]) -> None:
    """One vLLM ``generate`` call over ``records``: each prompt's ids are the HF processor's and its first-token
    log-probs the HF forward's."""
    from vllm import SamplingParams

    processor = load_processor(str(tiny_model_dir))
    encoder = SampleEncoder(processor, FrameBudget(nframes=4, min_pixels=56 * 56, max_pixels=112 * 112))
    placeholders = vllm_engine.placeholder_token_ids(processor)
    encoded = [encoder.tokenize(sample) + (sample,) for sample in map(encoder.sample, records)]
    prompts = [sample.vllm_prompt(ids, placeholders) for ids, _, sample in encoded]
    outs = llm.generate(prompts, SamplingParams(max_tokens=1, logprobs=5), use_tqdm=False)
    model = load_model(str(tiny_model_dir))
    for (ids, vision, sample), out in zip(encoded, outs, strict=True):
        assert list(out.prompt_token_ids) == ids, sample.record.id  # same image grid / video grid as HF
        x = torch.tensor([ids])
        with torch.no_grad():
            logits = model(
                input_ids=x,
                attention_mask=torch.ones_like(x),
                mm_token_type_ids=mm_token_type_ids(x, processor.tokenizer),
                **{k: v for k, v in vars(vision).items() if v is not None},
            ).logits[0, -1]
        hf = torch.log_softmax(logits.float(), -1)
        gap = max(abs(lp.logprob - hf[t].item()) for t, lp in out.outputs[0].logprobs[0].items())
        assert gap < LOGPROB_TOL, (sample.record.id, gap)


def test_image_row_ids_and_logprobs_equal_hf(disk_weights_llm, tiny_model_dir, tmp_path) -> None:
    _check_against_hf(disk_weights_llm, tiny_model_dir, [_image_record(tmp_path)])


def test_mixed_image_and_video_batch_equals_hf(
    disk_weights_llm, tiny_model_dir, synth_suite_dir, tmp_path
) -> None:
    """An image row and a video row in one generate call: each keeps its own modality, grid and log-probs."""
    from videorft.data.loaders import load_spec

    video = next(r for r in load_spec(str(synth_suite_dir), split="test").records if r.video is not None)
    _check_against_hf(
        disk_weights_llm, tiny_model_dir, [_image_record(tmp_path), video, _image_record(tmp_path)]
    )
