"""Docs that run: every ```bash and ```python block in README.md and docs/*.md is a test.

Each block is one test named after its page and line (``test_doc_block[docs/rewards.md:43]``); the
engine and its rules are in ``tests/doc_blocks.py``. A block that needs a GPU, vLLM, the network or
long compute carries ``<!-- doc-test: skip REASON -->`` on the line before its fence.

Placeholders in the docs resolve to shared fixtures (built once per test worker), linked into each
page's scratch folder:

=============================  ==============================================================
``runs/demo/checkpoints/rl``   the tiny random Qwen2.5-VL (``tiny_model_dir``), with every token
``runs/demo/checkpoints/sft``  an end-of-text token, so ``eval``/``probe`` answer in one step
``runs/demo/synth``            the small synthetic suite (``synth_suite_dir``)
``path/to/suite``              the same suite
``clip.mp4``                   one of the suite's videos
``GOT-10k_Train_000001/``      one of the suite's GOT-10k frame folders
``my/prompt.jinja``            a user prompt template (the timing partial, the question)
=============================  ==============================================================

and the ``SUBSTITUTIONS`` below rewrite a block's text before it runs. A new placeholder goes into
``FIXTURE_LINKS`` (or ``SUBSTITUTIONS``) here, not into a test of its own.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from doc_blocks import (
    Block,
    BlockFailed,
    DocFormatError,
    Substitution,
    doc_env,
    parse_blocks,
    run_block,
    substitute,
)

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK_TIMEOUT_S = 900.0  # a hang guard; a page runs in about a minute on an idle 2-core machine

SUBSTITUTIONS = [
    Substitution(
        "*", r"(?<![\w./~-])/data/", "data/", "dataset placeholders /data/... -> the scratch folder's data/"
    ),
    Substitution("docs/synth.md", r"--n \d+", "--n 2", "suite sizes: 2 videos per task run the same code"),
    Substitution("docs/synth.md", r"\bn=\d+", "n=2", "the same in the Python example"),
]


def _all_blocks() -> list[Block]:
    return [b for page in PAGES for b in parse_blocks(page, str(page.relative_to(REPO)))]


RUNNABLE = [b for b in _all_blocks() if b.runner]


# ----------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def quick_model_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with every token id an end-of-text id: generation stops after one token.

    A random model otherwise writes ``max_new_tokens`` (1024 by default) tokens per answer, minutes per
    documented ``eval``; the doc-tests check that commands run and write what the docs say, not accuracy.
    """
    out = tmp_path_factory.mktemp("quick-model") / "model"
    shutil.copytree(tiny_model_dir, out)
    cfg_path = out / "config.json"
    cfg = json.loads(cfg_path.read_text())
    vocab = cfg.get("vocab_size") or cfg.get("text_config", {}).get("vocab_size")
    gen_path = out / "generation_config.json"
    gen = json.loads(gen_path.read_text())
    gen["eos_token_id"] = list(range(int(vocab)))
    gen_path.write_text(json.dumps(gen))
    return out


@pytest.fixture(scope="session")
def fixture_links(
    quick_model_dir: Path, synth_suite_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Placeholder path in the docs -> the fixture it stands for (relative to a page's scratch folder)."""
    clip = sorted((synth_suite_dir / "videos").glob("*.mp4"))[0]
    template = tmp_path_factory.mktemp("doc-template") / "prompt.jinja"
    template.write_text('{% include "_timing.jinja" %}{{ problem }}\nAnswer in <answer> </answer>.\n')
    return {
        "GOT-10k_Train_000001": synth_suite_dir / "got10k" / "train" / "GOT-10k_Train_000001",
        "my/prompt.jinja": template,
        "runs/demo/checkpoints/rl": quick_model_dir,
        "runs/demo/checkpoints/sft": quick_model_dir,
        "runs/demo/synth": synth_suite_dir,
        "path/to/suite": synth_suite_dir,
        "clip.mp4": clip,
    }


_PAGE_STATE: dict[str, dict] = {}  # per test worker: page -> {"workdir", "done"}


def _page_workdir(page: str, links: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    state = _PAGE_STATE.get(page)
    if state is None:
        workdir = tmp_path_factory.mktemp("doc-" + page.replace("/", "-").replace(".", "-"))
        (workdir / "data").mkdir()
        for rel, target in links.items():
            (workdir / rel).parent.mkdir(parents=True, exist_ok=True)
            (workdir / rel).symlink_to(target, target_is_directory=target.is_dir())
        state = _PAGE_STATE[page] = {"workdir": workdir, "done": 0}
    return state


# ----------------------------------------------------------------------------------------------- the doc blocks
@pytest.mark.parametrize("block", RUNNABLE, ids=[b.where for b in RUNNABLE])
def test_doc_block(
    block: Block, fixture_links: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    if block.skip_reason:
        pytest.skip(f"{block.where}: {block.skip_reason}")
    state = _page_workdir(block.rel, fixture_links, tmp_path_factory)
    env = doc_env(REPO / "src")
    page_blocks = [b for b in RUNNABLE if b.rel == block.rel]
    index = page_blocks.index(block)
    # Blocks of a page share its scratch folder: run the earlier ones first if this worker has not
    # (pytest-xdist may hand another worker the start of the page).
    failure = None
    for earlier in page_blocks[state["done"] : index]:
        if not earlier.skip_reason and failure is None:
            try:
                run_block(earlier, state["workdir"], substitute(earlier, SUBSTITUTIONS), env, BLOCK_TIMEOUT_S)
            except BlockFailed as exc:
                failure = f"{block.where}: an earlier block of the page failed first:\n{exc}"
    state["done"] = index + 1
    if failure is None:
        try:
            run_block(block, state["workdir"], substitute(block, SUBSTITUTIONS), env, BLOCK_TIMEOUT_S)
        except BlockFailed as exc:
            failure = str(exc)
    if failure is not None:  # outside the except: the report shows the block's message, not a chain
        pytest.fail(failure, pytrace=False)


def test_every_fence_names_a_language() -> None:
    """An untagged fence is neither run nor marked as output: commands could hide there and drift."""
    untagged = [b.where for b in _all_blocks() if not b.language]
    assert not untagged, f"fences without a language (```bash/```python run; ```text is output): {untagged}"


def test_the_docs_have_runnable_blocks() -> None:
    """The collector finds the pages' blocks (a parser bug that found none would pass every doc-test)."""
    assert len(RUNNABLE) >= 15 and sum(1 for b in RUNNABLE if not b.skip_reason) >= 10
    assert {b.rel for b in RUNNABLE} >= {
        "README.md",
        "docs/rewards.md",
        "docs/synth.md",
        "docs/evaluation.md",
    }


# ----------------------------------------------------------------------------------------------- the engine
PAGE = """# A page

```text
not run: videorft nonsense
```

<!-- doc-test: skip needs a GPU -->
```bash
exit 3
```

```python
x = 1

raise RuntimeError("broken snippet")
```

```bash
echo ok
false
```
"""


def test_engine_parses_languages_skips_and_lines(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    blocks = parse_blocks(page, "docs/page.md")
    assert [(b.line, b.language, b.runner, b.skip_reason) for b in blocks] == [
        (3, "text", None, None),
        (8, "bash", "bash", "needs a GPU"),
        (12, "python", "python", None),
        (18, "bash", "bash", None),
    ]
    assert blocks[2].source == 'x = 1\n\nraise RuntimeError("broken snippet")\n'


def test_engine_failure_names_the_page_and_line(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    _, _, py, sh = parse_blocks(page, "docs/page.md")
    env = doc_env(REPO / "src")
    with pytest.raises(BlockFailed) as exc:
        run_block(py, tmp_path, py.source, env, 60)
    msg = str(exc.value)
    assert msg.startswith("docs/page.md:12: the ```python block exited 1")
    assert "line 15" in msg and "RuntimeError: broken snippet" in msg  # the traceback's line is the page's
    with pytest.raises(BlockFailed) as exc:
        run_block(sh, tmp_path, sh.source, env, 60)
    assert str(exc.value).startswith("docs/page.md:18: the ```bash block exited 1") and "ok" in str(exc.value)


def test_engine_runs_python_as_a_script(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```python\nprint(__name__)\n```\n")
    (block,) = parse_blocks(page)
    assert run_block(block, tmp_path, block.source, doc_env(REPO / "src"), 60).strip() == "__main__"


def test_engine_rejects_a_skip_without_reason_and_an_open_fence(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- doc-test: skip -->\n```bash\necho\n```\n")
    with pytest.raises(DocFormatError, match=r"page.md:1: .*needs a reason"):
        parse_blocks(page, "page.md")
    page.write_text("text\n\n```python\nprint(1)\n")
    with pytest.raises(DocFormatError, match=r"page.md:3: code fence ``` is never closed"):
        parse_blocks(page, "page.md")


def test_substitutions_apply_per_page() -> None:
    block = Block(Path("x"), "docs/synth.md", 1, "bash", "videorft data synth --out /data/s --n 200\n", None)
    assert substitute(block, SUBSTITUTIONS) == "videorft data synth --out data/s --n 2\n"
    other = Block(Path("x"), "docs/data.md", 1, "bash", "x --n 200 runs/data/y /data/z\n", None)
    assert substitute(other, SUBSTITUTIONS) == "x --n 200 runs/data/y data/z\n"
