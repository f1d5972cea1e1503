"""The doc-test collector's engine: find the fenced blocks of a Markdown page and run them.

Rules (also stated in docs/architecture.md, "Docs that run"):

- ```bash / ```sh / ```shell blocks run with ``bash -e -o pipefail``; ```python / ```py blocks run as a
  script (``python block.py``, so ``__name__ == "__main__"``, as when a reader pastes one into a file).
  Every other fence (```text output samples, ```yaml, ```json, diagrams) is not run, but must name a
  language, so that no command hides in an untagged fence.
- The line ``<!-- doc-test: skip REASON -->`` (blank lines allowed) directly before a fence opts that
  block out; the reason is required and shows in pytest's skip report.
- The blocks of one page run top to bottom in one scratch folder (a file written by one block is there
  for the next); each Python block is a complete script (no names carry over from an earlier block).
- The scratch folder holds the fixtures that the docs' placeholder paths name (``runs/demo/...``,
  ``clip.mp4``, ``path/to/suite``; see ``tests/test_docs.py``), and the substitutions listed there are
  applied to a block's text before it runs (``/data/`` -> the scratch folder's ``data/``, big suite
  sizes -> small ones).
- Scripts are padded with blank lines so that a traceback's or bash's line numbers are the page's.

pytest-markdown-docs, phmdoctest and mktestdocs run Python fences only and pytest-codeblocks runs
shell fences in the repository itself with its own marker syntax; none has per-page scratch folders,
placeholder fixtures or our skip marker, so this small engine is ours.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

RUN_LANGUAGES = {"bash": "bash", "sh": "bash", "shell": "bash", "python": "python", "py": "python"}
SKIP_MARKER = re.compile(r"^\s*<!--\s*doc-test:\s*skip\b(?P<reason>.*?)-->\s*$")
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


@dataclass(frozen=True)
class Block:
    path: Path  # the Markdown page
    rel: str  # its path as shown in messages (relative to the repository)
    line: int  # 1-based line of the opening fence
    language: str  # the info string's first word ("" for an untagged fence)
    source: str  # the block's text, without the fences
    skip_reason: str | None  # from a doc-test skip marker; None when the block runs

    @property
    def runner(self) -> str | None:
        return RUN_LANGUAGES.get(self.language.lower())

    @property
    def where(self) -> str:
        return f"{self.rel}:{self.line}"


class DocFormatError(ValueError):
    """A page the collector cannot read (an unclosed fence, a skip marker without a reason)."""


def parse_blocks(path: Path, rel: str | None = None) -> list[Block]:
    """Every fenced code block of ``path`` in page order (CommonMark fences: ``` or ~~~, 3+ long)."""
    rel = rel or str(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m or (m["fence"][0] == "`" and "`" in m["info"]):
            i += 1
            continue
        fence, start = m["fence"], i
        close = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        if j == len(lines):
            raise DocFormatError(f"{rel}:{start + 1}: code fence {fence} is never closed")
        body = [
            ln[len(m["indent"]) :] if ln.startswith(m["indent"]) else ln.lstrip() for ln in lines[i + 1 : j]
        ]
        blocks.append(
            Block(
                path=path,
                rel=rel,
                line=start + 1,
                language=(m["info"].split() or [""])[0],
                source="\n".join(body) + "\n",
                skip_reason=_skip_reason(lines, start, rel),
            )
        )
        i = j + 1
    return blocks


def _skip_reason(lines: list[str], fence_index: int, rel: str) -> str | None:
    k = fence_index - 1
    while k >= 0 and not lines[k].strip():
        k -= 1
    if k < 0:
        return None
    m = SKIP_MARKER.match(lines[k])
    if not m:
        return None
    reason = m["reason"].strip()
    if not reason:
        raise DocFormatError(
            f"{rel}:{k + 1}: '<!-- doc-test: skip -->' needs a reason: <!-- doc-test: skip REASON -->"
        )
    return reason


@dataclass(frozen=True)
class Substitution:
    """A textual replacement applied to a block before it runs (documented in tests/test_docs.py)."""

    pages: str  # a glob over the page's repository path ("*" for all)
    pattern: str  # a regular expression
    replacement: str
    why: str


def substitute(block: Block, substitutions: Iterable[Substitution]) -> str:
    from fnmatch import fnmatch

    text = block.source
    for sub in substitutions:
        if fnmatch(block.rel, sub.pages):
            text = re.sub(sub.pattern, sub.replacement, text)
    return text


class BlockFailed(AssertionError):
    """A block exited non-zero or timed out; the message names the page and line first."""


def run_block(block: Block, workdir: Path, text: str, env: dict[str, str], timeout: float) -> str:
    """Run one block in ``workdir``; returns its output, or raises BlockFailed naming ``rel:line``."""
    runner = block.runner
    if runner is None:
        raise ValueError(f"{block.where}: a ```{block.language} block is not run")
    workdir = Path(workdir).resolve()  # the script path must not depend on the cwd it runs in
    scripts = workdir / "_doc_scripts"
    scripts.mkdir(exist_ok=True)
    # padding: line N of the script is line N of the page, so tracebacks and bash errors point at the doc
    padded = "\n" * block.line + text
    suffix = ".py" if runner == "python" else ".sh"
    script = scripts / (block.rel.replace("/", "__") + f".L{block.line}{suffix}")
    script.write_text(padded, encoding="utf-8")
    cmd = (
        [sys.executable, str(script)] if runner == "python" else ["bash", "-e", "-o", "pipefail", str(script)]
    )
    try:
        proc = subprocess.run(
            cmd,
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode(errors="replace")
        raise BlockFailed(
            f"{block.where}: the ```{block.language} block ran past {timeout:.0f} s "
            f"(give it a doc-test skip marker if it is long by nature)\n{_tail(out)}"
        ) from None
    if proc.returncode != 0:
        raise BlockFailed(
            f"{block.where}: the ```{block.language} block exited {proc.returncode} "
            f"(line numbers below are {block.rel}'s; script {script.name})\n"
            f"--- block as run ---\n{_numbered(block.line, text)}\n--- output ---\n{_tail(proc.stdout)}"
        )
    return proc.stdout


def doc_env(src: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment blocks run in: this interpreter's ``videorft`` first on PATH, this tree's source."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join([str(src), *filter(None, [env.get("PYTHONPATH")])])
    env.update(
        {
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "OMP_NUM_THREADS": env.get("OMP_NUM_THREADS", "1"),
            "MPLBACKEND": "Agg",
            "NO_COLOR": "1",
            "COLUMNS": "120",
        }
    )
    env.update(extra or {})
    return env


def _numbered(first: int, text: str) -> str:
    return "\n".join(f"{first + 1 + i:5d}  {ln}" for i, ln in enumerate(text.rstrip("\n").split("\n")))


def _tail(text: str, limit: int = 6000) -> str:
    return text if len(text) <= limit else "...\n" + text[-limit:]
