"""The real Qwen2.5 byte-level BPE tokenizer, built offline from ``qwen.tiktoken`` (PyPI: dashscope).

The BPE ranks in ``qwen.tiktoken`` are the Qwen2/2.5 vocabulary (ids 0..151642). Hugging Face's BPE
needs merges; for each token we take the last merge tiktoken itself performs when it encodes that
token's bytes, which gives one merge per multi-byte token (151,387, as in Qwen's merges.txt).
The derived merges are cached on disk, keyed by the file's hash, so later builds take ~0.5 s.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from videorft.files import write_atomic

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

log = logging.getLogger(__name__)

#: Qwen2's pre-tokenizer: digits split one by one, letters grouped with one leading non-letter.
QWEN2_PRETOKENIZE_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

#: Qwen2.5-VL's added tokens at their real ids; the first 14 are "special" (skipped when decoding).
SPECIAL_TOKENS: dict[str, int] = {
    "<|endoftext|>": 151643,
    "<|im_start|>": 151644,
    "<|im_end|>": 151645,
    "<|object_ref_start|>": 151646,
    "<|object_ref_end|>": 151647,
    "<|box_start|>": 151648,
    "<|box_end|>": 151649,
    "<|quad_start|>": 151650,
    "<|quad_end|>": 151651,
    "<|vision_start|>": 151652,
    "<|vision_end|>": 151653,
    "<|vision_pad|>": 151654,
    "<|image_pad|>": 151655,
    "<|video_pad|>": 151656,
}
ADDED_TOKENS: dict[str, int] = {
    "<tool_call>": 151657,
    "</tool_call>": 151658,
    "<|fim_prefix|>": 151659,
    "<|fim_middle|>": 151660,
    "<|fim_suffix|>": 151661,
    "<|fim_pad|>": 151662,
    "<|repo_name|>": 151663,
    "<|file_sep|>": 151664,
}
NUM_BPE_TOKENS = 151643
MODEL_MAX_LENGTH = 131072

# Qwen2.5-VL-Instruct's chat template, with one deliberate change: a content part's kind is read from
# its 'type' and only falls back to key presence when 'type' is missing. Rows that went through
# `datasets` carry every key (None-filled), so the original's `'video' in content` test would turn a
# text part into a video placeholder. For well-formed messages the output is identical.
CHAT_TEMPLATE = Path(__file__).with_name("chat_template.jinja").read_text(encoding="utf-8").removesuffix("\n")

# Bump when the derivation of merges changes, so stale caches are ignored.
_MERGES_FORMAT = 1


def qwen_tiktoken_path() -> Path:
    """Path of ``qwen.tiktoken`` inside the installed ``dashscope`` package (not imported: it is slow)."""
    spec = importlib.util.find_spec("dashscope")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the Qwen tokenizer is built from qwen.tiktoken in the PyPI package 'dashscope'; "
            "install it with: pip install dashscope==2.0.2"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "qwen.tiktoken"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: qwen.tiktoken is missing from the installed dashscope package")
    return path


def read_tiktoken_ranks(path: str | Path) -> dict[bytes, int]:
    """``{token_bytes: rank}`` from a tiktoken BPE file (one ``base64 rank`` pair per line)."""
    ranks: dict[bytes, int] = {}
    for lineno, line in enumerate(Path(path).read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            token, rank = line.split()
            ranks[base64.b64decode(token, validate=True)] = int(rank)
        except ValueError as exc:
            raise ValueError(f"{path}:{lineno}: not a 'base64 rank' line ({exc})") from None
    return ranks


def cache_dir() -> Path:
    """videorft's user cache: $VIDEORFT_CACHE, else $XDG_CACHE_HOME/videorft, else ~/.cache/videorft."""
    if env := os.environ.get("VIDEORFT_CACHE"):
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "videorft"


def _last_merge(token: bytes, ranks: dict[bytes, int]) -> tuple[bytes, bytes]:
    """The final pair tiktoken merges when encoding ``token``'s bytes (lowest-rank pair first)."""
    parts = [bytes([b]) for b in token]
    while len(parts) > 2:
        best_rank, best_i = None, -1
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and (best_rank is None or rank < best_rank):
                best_rank, best_i = rank, i
        if best_rank is None:
            raise ValueError(f"token {token!r} cannot be reached by merges of the BPE ranks")
        parts[best_i : best_i + 2] = [parts[best_i] + parts[best_i + 1]]
    return parts[0], parts[1]


def derive_merges(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """One merge per multi-byte token, in rank order (the order BPE applies them)."""
    return [_last_merge(tok, ranks) for tok, _ in sorted(ranks.items(), key=lambda kv: kv[1]) if len(tok) > 1]


@lru_cache(maxsize=2)
def _vocab_and_merges(path: str) -> tuple[dict[str, int], tuple[tuple[str, str], ...]]:
    raw = Path(path).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()[:16]
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    ranks = read_tiktoken_ranks(path)
    b2u = bytes_to_unicode()  # GPT-2's reversible byte -> printable character map

    def enc(b: bytes) -> str:
        return "".join(b2u[x] for x in b)

    vocab = {enc(tok): rank for tok, rank in ranks.items()}
    cache_file = cache_dir() / "tokenizer" / f"qwen-merges-{digest}-v{_MERGES_FORMAT}.txt"
    if cache_file.is_file():
        # byte-level strings never contain a space, so "left right" per line is unambiguous
        merges = tuple(tuple(line.split(" ")) for line in cache_file.read_text(encoding="utf-8").splitlines())
        if len(merges) == sum(len(tok) > 1 for tok in ranks):
            return vocab, merges  # type: ignore[return-value]
        log.warning("ignoring malformed tokenizer cache %s", cache_file)
    merges = tuple((enc(a), enc(b)) for a, b in derive_merges(ranks))
    try:
        write_atomic(cache_file, "\n".join(f"{a} {b}" for a, b in merges))
    except OSError as exc:  # a read-only home must not stop the build, it only makes it slower
        log.info("could not cache tokenizer merges at %s: %s", cache_file, exc)
    return vocab, merges


def build_qwen_tokenizer(tiktoken_file: str | Path | None = None) -> PreTrainedTokenizerFast:
    """Qwen2.5-VL's tokenizer (a ``Qwen2Tokenizer``), built offline; a fresh instance per call."""
    from tokenizers import AddedToken
    from transformers import Qwen2Tokenizer

    path = Path(tiktoken_file) if tiktoken_file is not None else qwen_tiktoken_path()
    vocab, merges = _vocab_and_merges(str(path))
    if len(vocab) != NUM_BPE_TOKENS:
        raise ValueError(f"{path}: expected {NUM_BPE_TOKENS} BPE ranks for Qwen2.5, found {len(vocab)}")
    added = {
        idx: AddedToken(tok, special=tok in SPECIAL_TOKENS, normalized=False)
        for tok, idx in {**SPECIAL_TOKENS, **ADDED_TOKENS}.items()
    }
    tokenizer = Qwen2Tokenizer(
        vocab=dict(vocab),
        merges=list(merges),
        # what Qwen2.5-VL-Instruct's tokenizer_config.json sets
        unk_token=None,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        added_tokens_decoder=added,
        extra_special_tokens=[t for t in SPECIAL_TOKENS if t != "<|endoftext|>"],
        model_max_length=MODEL_MAX_LENGTH,
        errors="replace",
        split_special_tokens=False,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    got = tokenizer.convert_tokens_to_ids(list(added_tok.content for added_tok in added.values()))
    if got != list(added):
        raise RuntimeError(f"added tokens landed at ids {got}, expected {list(added)}")
    return tokenizer
