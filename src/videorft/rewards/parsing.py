"""Linear-time parsers shared by the rewards: tag blocks, numbers, time pairs, box/interval lists, letters.

Every function here takes an arbitrary string and never raises; "no parse" is ``None``.
Regexes are anchored or guarded by look-behinds and use possessive quantifiers, so no input
(10 MB of digits, unclosed brackets, nested tags) makes them backtrack quadratically.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "last_block",
    "first_block",
    "extract_answer",
    "parse_number",
    "parse_time_pair",
    "parse_number_groups",
    "extract_letter",
    "has_format",
]

# ---------------------------------------------------------------------------------------------- tags


def last_block(text: str, tag: str) -> str | None:
    """Content of the last complete, innermost ``<tag>…</tag>`` block, or None.

    Innermost: in ``<answer><answer>A</answer></answer>`` the content is ``A``, never a string that
    itself contains tags, so nesting cannot smuggle a second answer into the parsed one.
    """
    open_t, close_t = f"<{tag}>", f"</{tag}>"
    end = text.rfind(close_t)
    if end == -1:
        return None
    start = text.rfind(open_t, 0, end)
    if start == -1:
        return None
    start += len(open_t)
    # The first closing tag after the last opening tag ends the innermost block.
    return text[start : text.find(close_t, start)]


def first_block(text: str, tag: str) -> str | None:
    """Content of the first complete ``<tag>…</tag>`` block, or None.

    From the first opening tag to the first closing tag after it, exactly what the originals'
    ``re.search(r"<tag>(.*?)</tag>", text, re.DOTALL)`` captures (Video-R1 and VideoChat-R1's
    glue, grounding-QA answer and tracking rewards read the first block).
    """
    open_t, close_t = f"<{tag}>", f"</{tag}>"
    start = text.find(open_t)
    if start == -1:
        return None
    start += len(open_t)
    end = text.find(close_t, start)
    return None if end == -1 else text[start:end]


def extract_answer(completion: str) -> str | None:
    """Stripped content of the last ``<answer>`` block (None when there is none)."""
    block = last_block(completion, "answer")
    return None if block is None else block.strip()


_ALL_TAGS = ("<think>", "</think>", "<answer>", "</answer>", "<glue>", "</glue>")


def has_format(completion: str, blocks: tuple[str, ...]) -> bool:
    """True when the stripped completion is exactly the given tag blocks in order, whitespace between.

    Each of the known tags (think/answer/glue) must occur exactly once if listed in ``blocks`` and
    not at all otherwise: repeated, nested or stray tags (also inside the think block) fail, which
    keeps the format reward from being farmed by multiple answers. The answer must not be empty.
    """
    wanted = {f"<{b}>" for b in blocks} | {f"</{b}>" for b in blocks}
    for tag in _ALL_TAGS:
        if text_count(completion, tag) != (1 if tag in wanted else 0):
            return False
    s = completion.strip()
    pos = 0
    for name in blocks:
        open_t, close_t = f"<{name}>", f"</{name}>"
        if not s.startswith(open_t, pos):
            return False
        close = s.find(close_t, pos + len(open_t))
        if close == -1:
            return False
        if name == "answer" and not s[pos + len(open_t) : close].strip():
            return False
        pos = close + len(close_t)
        m = _WS.match(s, pos)
        pos = m.end() if m else pos
    return pos == len(s)


_WS = re.compile(r"\s*+")


def text_count(text: str, sub: str) -> int:
    """``str.count`` that stops early: we only need to know 0, 1 or "more"."""
    first = text.find(sub)
    if first == -1:
        return 0
    return 1 if text.find(sub, first + len(sub)) == -1 else 2


# ------------------------------------------------------------------------------------------- numbers

# One number grammar for every parser (numerical, regression, time pairs, glue intervals, boxes),
# Python's float syntax minus nan/inf: digits with single underscores between them (``1_000``), an
# optional fraction that may be empty (``5.``) or a bare fraction (``.5``), an optional exponent
# (``1e3``). A comma is a list separator inside brackets; everywhere else it must be a valid
# thousands separator (``1,234,567.8``). See docs/rewards.md, "Numbers".
_UINT = r"\d++(?:_\d++)*+"
_FRAC = rf"(?:\.(?:{_UINT})?+)?+"
_EXP = rf"(?:[eE][-+]?+{_UINT})?+"
_THOUSANDS = r"\d{1,3}+(?:,\d{3}+)++"
#: unsigned number as it may appear in a list (no thousands commas)
LIST_NUMBER = rf"(?:{_UINT}{_FRAC}|\.{_UINT}){_EXP}"
#: unsigned number outside a list (thousands commas allowed)
SCALAR_NUMBER = rf"(?:(?:{_THOUSANDS}|{_UINT}){_FRAC}|\.{_UINT}){_EXP}"
_NUMBER = re.compile(rf"\s*+([-+]?+{SCALAR_NUMBER})\s*+")


def number_value(token: str) -> float | None:
    """The float a token matched by the number grammar spells (None when not finite)."""
    value = float(token.replace(",", ""))  # float() itself accepts the underscores
    return value if math.isfinite(value) else None


def parse_number(text: str) -> float | None:
    """The number the whole string spells (thousands separators allowed), or None.

    ``"1,000"`` → 1000.0, ``"3.50"`` → 3.5, ``"5."`` → 5.0, ``"1_000"`` → 1000.0, ``"1e3"`` → 1000.0;
    ``"1,5"``, ``"nan"``, ``"inf"``, ``"12 apples"`` and values that overflow a float → None.
    """
    m = _NUMBER.fullmatch(text)
    return None if m is None else number_value(m.group(1))


# A candidate first number may not start inside another number (after a digit, '.', ',', '_' or
# an exponent's 'e'/'e-'), so a scan never restarts in the middle of one.
_T = rf"(?<![\d.,_])(?<!\d[eE])(?<!\d[eE][-+])({SCALAR_NUMBER})"
# "A to B" / "A and B" / "A - B", units allowed after A. Matches do not overlap and the last one
# wins, as VideoChat-R1's ``re.findall(...)[-1]``: in a chain "1 to 2 to 3" the pairs are (1, 2)
# then nothing (" to 3" has no first number), so (1, 2) counts; "1 to 2 to 3 to 4" gives (3, 4).
_WORD_PAIR = re.compile(
    _T + rf"\s*+(?:seconds?|secs?|s)?+\s*+(?:to|and|-|–|—|~)\s*+({SCALAR_NUMBER})", re.IGNORECASE
)
# "[A, B]" / "(A, B)": a list, so the comma separates and the numbers carry none.
_BRACKET_PAIR = re.compile(rf"[\[(]\s*+({LIST_NUMBER})\s*+,\s*+({LIST_NUMBER})\s*+[\])]")


def parse_time_pair(text: str) -> tuple[float, float] | None:
    """The last "A to B" / "A and B" / "A - B" / "[A, B]" pair of seconds in ``text``, or None.

    The pair is returned as written (possibly start > end); non-finite values → None.
    """
    best: re.Match[str] | None = None
    for pattern in (_WORD_PAIR, _BRACKET_PAIR):
        last = None
        for last in pattern.finditer(text):  # noqa: B007  (we want the last match)
            pass
        if last is not None and (best is None or last.start() > best.start()):
            best = last
    if best is None:
        return None
    a, b = number_value(best.group(1)), number_value(best.group(2))
    if a is None or b is None:
        return None
    return a, b


_NUM = rf"[-+]?+{LIST_NUMBER}"
_NUM_SEQ = rf"(?>{_NUM}(?:\s*+,\s*+{_NUM})*+)"
_GROUP = re.compile(rf"\s*+[\[(]\s*+({_NUM_SEQ})\s*+,?+\s*+[\])]\s*+")
_FLAT = re.compile(rf"\s*+({_NUM_SEQ})\s*+,?+\s*+")
_SPLIT = re.compile(r"\s*+,\s*+")


def parse_number_groups(
    text: str, max_groups: int = 4096, max_chars: int = 200_000
) -> list[tuple[float, ...]] | None:
    """Parse ``[(a, b), [c, d], …]`` (Python or JSON style, trailing commas allowed) into tuples.

    A flat ``[a, b, c, d]`` is one group. Any other text, non-finite numbers, more than
    ``max_groups`` groups or more than ``max_chars`` characters → None. Used for ``<glue>``
    intervals and tracking boxes (a few hundred characters in practice).
    """
    s = text.strip()
    if len(s) > max_chars or len(s) < 2 or s[0] not in "[(" or s[-1] not in "])":
        return None
    inner = s[1:-1]
    flat = _FLAT.fullmatch(inner)
    if flat is not None:
        group = _to_floats(flat.group(1))
        return None if group is None else [group]
    groups: list[tuple[float, ...]] = []
    pos = 0
    while True:
        m = _GROUP.match(inner, pos)
        if m is None:
            break
        group = _to_floats(m.group(1))
        if group is None or len(groups) >= max_groups:
            return None
        groups.append(group)
        pos = m.end()
        if pos < len(inner) and inner[pos] == ",":
            pos += 1
            continue
        break
    if inner[pos:].strip():
        return None
    return groups


def _to_floats(seq: str) -> tuple[float, ...] | None:
    values = tuple(number_value(x) for x in _SPLIT.split(seq.strip()))
    return None if any(v is None for v in values) else values  # type: ignore[return-value]


# ------------------------------------------------------------------------------------------- letters

_LEAD_IN = re.compile(
    r"(?:(?:the\s++)?+(?:best\s++|correct\s++|final\s++|right\s++)?+(?:answer|option|choice)"
    r"(?:\s++(?:is|would\s++be))?+\s*+[:：]?+\s*+)",
    re.IGNORECASE,
)
_BRACKETED = re.compile(r"[(\[]([A-Z])[)\]]")
_BARE = re.compile(r"([A-Z])(?:[.:),]|\s*+$)")
_DECOR = " \t\r\n*\"'`_"


def extract_letter(text: str) -> str | None:
    """The option letter (A–Z) an answer gives, or None.

    Accepts "C", "(C)", "[C]", "C.", "C) text", "C: text", "**C**" and lead-ins such as
    "The answer is", "Answer:", "The best option is". A capital that merely starts a word
    ("A dog runs") is not a letter answer, so prose cannot hit an option by accident.
    """
    s = text.strip(_DECOR)
    m = _LEAD_IN.match(s)
    if m is not None:
        s = s[m.end() :].strip(_DECOR)
    m = _BRACKETED.match(s) or _BARE.match(s)
    return m.group(1) if m else None
