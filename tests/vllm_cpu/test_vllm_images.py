"""Image rows through the vLLM path: the HF processor's ids and the model's log-probs (Video-R1 mixes images in)."""

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


def test_image_row_ids_and_logprobs_equal_hf(disk_weights_llm, tiny_model_dir, tmp_path) -> None:
    from vllm import SamplingParams

    path = tmp_path / "img.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (112, 140, 3), dtype=np.uint8)).save(path)
    record = Record(
        id="img", task="multiple_choice", problem="What is shown?", solution="A",
        image=str(path), options=["A. noise", "B. a cat"],
    )  # fmt: skip
    processor = load_processor(str(tiny_model_dir))
    budget = FrameBudget(min_pixels=56 * 56, max_pixels=112 * 112)
    encoder = SampleEncoder(processor, budget)
    sample = encoder.sample(record)
    ids, vision = encoder.tokenize(sample)
    prompt = sample.vllm_prompt(ids, vllm_engine.placeholder_token_ids(processor))
    out = disk_weights_llm.generate([prompt], SamplingParams(max_tokens=1, logprobs=5), use_tqdm=False)[0]
    assert list(out.prompt_token_ids) == ids  # same image grid as the HF processor
    x = torch.tensor([ids])
    model = load_model(str(tiny_model_dir))
    with torch.no_grad():
        logits = model(
            input_ids=x,
            attention_mask=torch.ones_like(x),
            mm_token_type_ids=mm_token_type_ids(x, processor.tokenizer),
            **{k: v for k, v in vars(vision).items() if v is not None},
        ).logits[0, -1]
    hf = torch.log_softmax(logits.float(), -1)
    assert max(abs(lp.logprob - hf[t].item()) for t, lp in out.outputs[0].logprobs[0].items()) < LOGPROB_TOL
