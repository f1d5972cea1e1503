"""The offline Qwen2.5 tokenizer: pinned ids, agreement with tiktoken, special tokens, chat template."""

from __future__ import annotations

import base64
import unicodedata

import pytest
import tiktoken
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from videorft.models import tokenizer as tok_mod
from videorft.models.tokenizer import QWEN2_PRETOKENIZE_REGEX, build_qwen_tokenizer, qwen_tiktoken_path

# Ids below were produced by tiktoken's own encoder over qwen.tiktoken (not by our BPE); "Hello world"
# -> [9707, 1879] is also Qwen's documented example.
PINNED = {
    "Hello world": [9707, 1879],
    "The quick brown fox jumps over the lazy dog.": [
        785,
        3974,
        13876,
        38835,
        34208,
        916,
        279,
        15678,
        5562,
        13,
    ],
    "2025: 12345 + 67.89": [17, 15, 17, 20, 25, 220, 16, 17, 18, 19, 20, 488, 220, 21, 22, 13, 23, 24],
    "안녕하세요, 세계!": [126246, 144370, 91145, 11, 133196, 0],
    "def add(a, b):\n    return a + b\n": [750, 912, 2877, 11, 293, 982, 262, 470, 264, 488, 293, 198],
    "  indented\ttab\r\n": [220, 1257, 15864, 58149, 319],
}

# Qwen2.5-VL's added tokens and their ids, as listed in its tokenizer_config.json.
QWEN25_VL_ADDED = [
    ("<|endoftext|>", 151643, True),
    ("<|im_start|>", 151644, True),
    ("<|im_end|>", 151645, True),
    ("<|object_ref_start|>", 151646, True),
    ("<|object_ref_end|>", 151647, True),
    ("<|box_start|>", 151648, True),
    ("<|box_end|>", 151649, True),
    ("<|quad_start|>", 151650, True),
    ("<|quad_end|>", 151651, True),
    ("<|vision_start|>", 151652, True),
    ("<|vision_end|>", 151653, True),
    ("<|vision_pad|>", 151654, True),
    ("<|image_pad|>", 151655, True),
    ("<|video_pad|>", 151656, True),
    ("<tool_call>", 151657, False),
    ("</tool_call>", 151658, False),
    ("<|fim_prefix|>", 151659, False),
    ("<|fim_middle|>", 151660, False),
    ("<|fim_suffix|>", 151661, False),
    ("<|fim_pad|>", 151662, False),
    ("<|repo_name|>", 151663, False),
    ("<|file_sep|>", 151664, False),
]


@pytest.fixture(scope="module")
def tiktoken_encoding() -> tiktoken.Encoding:
    ranks = {}
    for line in qwen_tiktoken_path().read_bytes().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return tiktoken.Encoding(
        "qwen", pat_str=QWEN2_PRETOKENIZE_REGEX, mergeable_ranks=ranks, special_tokens={}
    )


@pytest.mark.parametrize("text", list(PINNED))
def test_pinned_encodings(qwen_tokenizer, text: str) -> None:
    assert qwen_tokenizer.encode(text, add_special_tokens=False) == PINNED[text]
    assert qwen_tokenizer.decode(PINNED[text]) == text


@pytest.mark.parametrize(("token", "idx", "special"), QWEN25_VL_ADDED)
def test_added_tokens_at_real_ids(qwen_tokenizer, token: str, idx: int, special: bool) -> None:
    assert qwen_tokenizer.convert_tokens_to_ids(token) == idx
    # an added token in running text stays one token, never split by BPE
    assert qwen_tokenizer.encode(f"a{token}b", add_special_tokens=False) == [64, idx, 65]
    decoded = qwen_tokenizer.decode([64, idx, 65], skip_special_tokens=True)
    assert decoded == ("ab" if special else f"a{token}b")


def test_instruct_settings(qwen_tokenizer) -> None:
    assert len(qwen_tokenizer) == 151665
    assert qwen_tokenizer.eos_token == "<|im_end|>" and qwen_tokenizer.eos_token_id == 151645
    assert qwen_tokenizer.pad_token == "<|endoftext|>" and qwen_tokenizer.pad_token_id == 151643
    assert qwen_tokenizer.bos_token is None
    assert qwen_tokenizer.model_max_length == 131072
    # no BOS/EOS is added around plain text
    assert qwen_tokenizer("Hello world").input_ids == [9707, 1879]


def test_agrees_with_tiktoken_on_source_code(qwen_tokenizer, tiktoken_encoding) -> None:
    import argparse
    import json
    import textwrap

    text = "".join(open(m.__file__, encoding="utf-8").read() for m in (argparse, json, textwrap))
    assert qwen_tokenizer.encode(text, add_special_tokens=False) == tiktoken_encoding.encode_ordinary(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_agrees_with_tiktoken_on_random_text(qwen_tokenizer, tiktoken_encoding, text: str) -> None:
    # The HF pipeline NFC-normalises first (as Qwen's tokenizer.json does); tiktoken does not.
    text = unicodedata.normalize("NFC", text)
    # Added-token strings would be matched as added tokens; they are covered above.
    if "<|" in text or "tool_call>" in text:
        return
    assert qwen_tokenizer.encode(text, add_special_tokens=False) == tiktoken_encoding.encode_ordinary(text)


def test_fresh_instance_per_call(qwen_tokenizer) -> None:
    other = build_qwen_tokenizer()
    other.padding_side = "right" if qwen_tokenizer.padding_side == "left" else "left"
    assert other.padding_side != qwen_tokenizer.padding_side


def test_merges_cache_is_written_and_reused(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("VIDEORFT_CACHE", str(tmp_path))
    tok_mod._vocab_and_merges.cache_clear()
    try:
        first = build_qwen_tokenizer()
        (cache_file,) = (tmp_path / "tokenizer").glob("qwen-merges-*.txt")
        lines = cache_file.read_text(encoding="utf-8").splitlines()
        assert len(lines) == 151387  # one merge per multi-byte token, as in Qwen's merges.txt
        # a damaged cache is ignored and rebuilt, never trusted
        cache_file.write_text("\n".join(lines[:10]), encoding="utf-8")
        tok_mod._vocab_and_merges.cache_clear()
        second = build_qwen_tokenizer()
        assert len(cache_file.read_text(encoding="utf-8").splitlines()) == 151387
        sample = "Tokenizer caches must not change encodings: 안녕 123"
        assert first.encode(sample) == second.encode(sample)
    finally:
        tok_mod._vocab_and_merges.cache_clear()


def test_bad_tiktoken_file_is_reported_with_line(tmp_path) -> None:
    bad = tmp_path / "bad.tiktoken"
    bad.write_bytes(b"IQ== 0\nnot-base64!! 1\n")
    with pytest.raises(ValueError, match=r"bad\.tiktoken:2"):
        build_qwen_tokenizer(bad)


# ----------------------------------------------------------------------------------------------- chat template
VIDEO_PROMPT = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>What happens?<|im_end|>\n"
    "<|im_start|>assistant\n"
)


def test_chat_template_video_and_generation_prompt(qwen_tokenizer) -> None:
    messages = [
        {
            "role": "user",
            "content": [{"type": "video", "video": "a.mp4"}, {"type": "text", "text": "What happens?"}],
        }
    ]
    assert (
        qwen_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        == VIDEO_PROMPT
    )
    no_prompt = qwen_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
    assert no_prompt == VIDEO_PROMPT.removesuffix("<|im_start|>assistant\n")


def test_chat_template_reads_type_not_key_presence(qwen_tokenizer) -> None:
    # the shape rows take after `datasets`: every key present, unused ones None
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "video", "video": "a.mp4", "image": None, "text": None},
                {"type": "text", "text": "What happens?", "video": None, "image": None},
            ],
        }
    ]
    assert (
        qwen_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        == VIDEO_PROMPT
    )


def test_chat_template_system_assistant_and_images(qwen_tokenizer) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"image": "x.png"}, {"type": "image"}, {"text": "Compare."}]},
        {"role": "assistant", "content": "<answer>A</answer>"},
    ]
    rendered = qwen_tokenizer.apply_chat_template(messages, tokenize=False, add_vision_id=True)
    assert rendered == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n"
        "Picture 1: <|vision_start|><|image_pad|><|vision_end|>"
        "Picture 2: <|vision_start|><|image_pad|><|vision_end|>Compare.<|im_end|>\n"
        "<|im_start|>assistant\n<answer>A</answer><|im_end|>\n"
    )


def test_chat_template_tokenizes_to_special_ids(qwen_tokenizer) -> None:
    ids = qwen_tokenizer.apply_chat_template(
        [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Hi"}]}],
        tokenize=True,
        add_generation_prompt=True,
        return_dict=False,
    )
    ids = list(ids["input_ids"]) if isinstance(ids, dict) or hasattr(ids, "keys") else list(ids)
    assert ids[:3] == [151644, 8948, 198]  # <|im_start|> system \n
    assert [151652, 151656, 151653] == ids[ids.index(151652) : ids.index(151652) + 3]
    assert ids[-3:] == [151644, 77091, 198]  # <|im_start|> assistant \n
