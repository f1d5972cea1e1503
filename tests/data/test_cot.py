"""CoT pipeline against a scripted OpenAI-compatible server on 127.0.0.1: keep/reject accounting, retries and
backoff, cache resume, unreachable teacher, malformed output, request content, CLI."""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from videorft.data.cot import (
    ChatResult,
    CotConfig,
    CotError,
    SampleScore,
    TeacherClient,
    completion_text,
    generate_cot,
    select_best,
)
from videorft.data.loaders import load_spec
from videorft.data.record import Record

# A reply: (status, body as dict or raw text, headers).
Reply = tuple[int, Any, dict[str, str]]


def ok(text: str, reasoning: str | None = None, finish: str = "stop") -> Reply:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    return 200, {"choices": [{"index": 0, "message": message, "finish_reason": finish}]}, {}


class FakeTeacher:
    """Chat-completions server whose replies come from ``script(body, call_number) -> Reply``."""

    def __init__(self, script: Callable[[dict[str, Any], int], Reply]) -> None:
        self.script = script
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        teacher = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with teacher._lock:
                    teacher.bodies.append(body)
                    n = len(teacher.bodies)
                status, payload, headers = teacher.script(body, n)
                data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def teacher() -> Iterator[Callable[[Callable[[dict[str, Any], int], Reply]], FakeTeacher]]:
    servers: list[FakeTeacher] = []

    def start(script: Callable[[dict[str, Any], int], Reply]) -> FakeTeacher:
        servers.append(FakeTeacher(script))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


@pytest.fixture(scope="module")
def mc_records(synth_suite_dir: Path) -> list[Record]:
    """Synthetic Video-R1 records (multiple choice and numerical) with their real videos."""
    spec = f"videor1:{synth_suite_dir / 'annotations' / 'train' / 'video_r1.json'}"
    return load_spec(spec, video_root=str(synth_suite_dir)).records


def prompt_of(body: dict[str, Any]) -> str:
    return next(p["text"] for p in body["messages"][-1]["content"] if p["type"] == "text")


def by_problem(
    records: list[Record], replies: dict[str, list[Reply]]
) -> Callable[[dict[str, Any], int], Reply]:
    """Script keyed by record id: sample k of a record gets ``replies[id][k]`` (seed = k with seed 0)."""
    options = {r.id: "\n".join(r.options) for r in records}

    def script(body: dict[str, Any], n: int) -> Reply:
        text = prompt_of(body)
        rid = next(i for i in replies if records_by_id[i].problem in text and options[i] in text)
        seq = replies[rid]
        return seq[min(body["seed"], len(seq) - 1)]

    records_by_id = {r.id: r for r in records}
    return script


def config(url: str, **kw: Any) -> CotConfig:
    base: dict[str, Any] = {
        "teacher_url": url,
        "teacher_model": "teacher",
        "max_retries": 2,
        "concurrency": 2,
    }
    return CotConfig(**{**base, **kw})


def quiet_client(cfg: CotConfig) -> TeacherClient:
    """Short backoff (0.1 s doubling, at most 0.3 s) so retry tests stay fast."""
    return TeacherClient(cfg.teacher_url, max_retries=cfg.max_retries, backoff_base=0.1, backoff_max=0.3)


def pick(records: list[Record], answers: list[str]) -> list[Record]:
    """One multiple-choice record per wanted answer letter, distinct problems+options."""
    out: list[Record] = []
    for letter in answers:
        out.append(
            next(
                r
                for r in records
                if r.task == "multiple_choice"
                and r.solution == letter
                and r not in out
                and all((r.problem, r.options) != (o.problem, o.options) for o in out)
            )
        )
    return out


def wrong(record: Record) -> str:
    return next(o.split(".")[0] for o in record.options if o.split(".")[0] != record.solution)


# ---------------------------------------------------------------------------------------------- accounting


def test_keep_reject_accounting_and_output_loads(
    tmp_path: Path, teacher: Any, mc_records: list[Record], retry_waits: Callable[[], list[float]]
) -> None:
    a, b, c, d, e = pick(mc_records, ["A", "B", "A", "A", "B"])
    replies = {
        a.id: [ok(f"<think>The {a.options[0]} shows first.</think>\n<answer>{a.solution}</answer>")],
        b.id: [ok(f"<think>Guessing.</think><answer>{wrong(b)}</answer>")],
        c.id: [ok("I think the answer is A.")],  # right answer, no tags: malformed output
        d.id: [(500, "boom", {})],
        # K=2: the first sample is wrong, the second right -> the second is kept.
        e.id: [
            ok(f"<think>first try</think><answer>{wrong(e)}</answer>"),
            ok(f"<think>second try</think><answer>{e.solution}</answer>"),
        ],
    }
    server = teacher(by_problem(mc_records, replies))
    cfg = config(server.url, samples=2)
    out = tmp_path / "cot" / "out.json"
    report = generate_cot([a, b, c, d, e], cfg, out, client=quiet_client(cfg))

    assert report.by_task() == {
        "multiple_choice": {"kept": 2, "low_reward": 1, "no_format": 1, "server_error": 1}
    }
    outcomes = {o.id: o for o in report.outcomes}
    assert outcomes[d.id].samples == 0 and "HTTP 500" in outcomes[d.id].detail
    # d: 2 samples x 3 attempts; the others: 2 samples each, one attempt.
    assert report.requests == len(server.bodies) == 2 * 3 + 4 * 2
    assert report.retries == 2 * 2
    # Exponential backoff (base 0.1 s, jitter 0.5-1x): retry 1 -> [0.05, 0.1], retry 2 -> [0.1, 0.2].
    delays = sorted(retry_waits())
    first, second = delays[:2], delays[2:]
    assert len(delays) == 4 and all(0.05 <= x <= 0.1 for x in first) and all(0.1 <= x <= 0.2 for x in second)

    rows = json.loads(out.read_text())
    assert [r["id"] for r in rows] == [a.id, e.id]  # input order
    assert rows[0]["process"] == f"<think>The {a.options[0]} shows first.</think>"
    assert rows[1]["process"] == "<think>second try</think>"
    assert rows[1]["solution"] == f"<answer>{e.solution}</answer>"
    assert (
        rows[0]["problem_type"] == "multiple choice" and Path(rows[0]["path"]).is_absolute()
    )  # outside the output folder: absolute, never "../"

    loaded = load_spec(f"videor1:{out}")  # video root = the output's folder; paths are relative to it
    assert not loaded.skipped
    assert [r.meta["process"] for r in loaded.records] == [row["process"] for row in rows]
    assert [(r.problem, r.options, r.solution, os.path.realpath(r.video)) for r in loaded.records] == [
        (x.problem, x.options, x.solution, os.path.realpath(x.video)) for x in (a, e)
    ]


def test_reward_must_exceed_threshold_and_ties_go_to_first() -> None:
    s = [SampleScore(0, "x", True, 0.6, {}), SampleScore(1, "y", True, 0.6, {})]
    assert select_best(s, 0.6) == (s[0], "low_reward")  # Video-R1 keeps reward > 0.6
    assert select_best(s, 0.59) == (s[0], None)
    assert select_best([SampleScore(0, "x", False, 1.0, {})], 0.6) == (None, "no_format")
    assert select_best([], 0.6) == (None, "server_error")


def test_numerical_reward_filter(tmp_path: Path, teacher: Any, mc_records: list[Record]) -> None:
    num = [r for r in mc_records if r.task == "numerical"][:2]
    replies = {
        num[0].id: [ok(f"<think>count</think><answer>{num[0].solution}</answer>")],
        num[1].id: [ok(f"<think>count</think><answer>{float(num[1].solution) + 3:g}</answer>")],
    }
    server = teacher(by_problem(num, replies))
    cfg = config(server.url)
    report = generate_cot(num, cfg, tmp_path / "n.json", client=quiet_client(cfg))
    assert report.by_task() == {"numerical": {"kept": 1, "low_reward": 1}}
    assert json.loads((tmp_path / "n.json").read_text())[0]["problem_type"] == "numerical"


# -------------------------------------------------------------------------------------------- retries


def test_transient_errors_are_retried_with_retry_after(
    tmp_path: Path, teacher: Any, mc_records: list[Record], retry_waits: Callable[[], list[float]]
) -> None:
    (a,) = pick(mc_records, ["A"])

    def script(body: dict[str, Any], n: int) -> Reply:
        if n == 1:
            return 503, "busy", {"Retry-After": "0.25"}
        if n == 2:
            return 200, "not json at all", {}
        if n == 3:
            return 200, {"choices": []}, {}
        return ok("<think>ok</think><answer>A</answer>")

    server = teacher(script)
    cfg = config(server.url, max_retries=3)
    report = generate_cot([a], cfg, tmp_path / "o.json", client=quiet_client(cfg))
    assert report.kept == 1 and report.retries == 3 and len(server.bodies) == 4
    assert retry_waits() == [0.25]  # Retry-After honoured (below backoff_max); malformed replies: asked again


def test_bad_request_is_not_retried(tmp_path: Path, teacher: Any, mc_records: list[Record]) -> None:
    (a,) = pick(mc_records, ["A"])
    server = teacher(lambda body, n: (400, '{"error": "prompt too long"}', {}))
    cfg = config(server.url)
    report = generate_cot([a], cfg, tmp_path / "o.json", client=quiet_client(cfg))
    assert len(server.bodies) == 1
    assert report.rejected() == {"server_error": 1} and "prompt too long" in report.outcomes[0].detail


# --------------------------------------------------------------------------------------------- resume


def test_second_run_is_served_from_cache(tmp_path: Path, teacher: Any, mc_records: list[Record]) -> None:
    recs = pick(mc_records, ["A", "B", "A"])
    flaky = {"on": True}

    def script(body: dict[str, Any], n: int) -> Reply:
        if (
            flaky["on"]
            and recs[2].problem in prompt_of(body)
            and "\n".join(recs[2].options) in prompt_of(body)
        ):
            return 502, "bad gateway", {}
        return ok("<think>look</think><answer>A</answer>")

    server = teacher(script)
    cfg = config(server.url, samples=2, max_retries=0)
    out = tmp_path / "o.json"
    first = generate_cot(recs, cfg, out, client=quiet_client(cfg))
    assert first.by_task() == {"multiple_choice": {"kept": 1, "low_reward": 1, "server_error": 1}}
    assert len(server.bodies) == 6

    flaky["on"] = False  # the server recovers: only the failed record's 2 samples are asked again
    second = generate_cot(recs, cfg, out, client=quiet_client(cfg))
    assert len(server.bodies) == 8 and second.requests == 2 and second.cache_hits == 4
    assert second.by_task() == {"multiple_choice": {"kept": 2, "low_reward": 1}}
    rows = out.read_text()

    third = generate_cot(recs, cfg, out, client=quiet_client(cfg))
    assert len(server.bodies) == 8 and third.requests == 0 and third.cache_hits == 6
    assert out.read_text() == rows

    # Another sampling setting is another request: no stale reuse.
    generate_cot(recs[:1], config(server.url, samples=1, temperature=0.5), tmp_path / "t.json")
    assert len(server.bodies) == 9


# ------------------------------------------------------------------------------------------ bad input


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_teacher_fails_clearly_and_writes_nothing(
    tmp_path: Path, mc_records: list[Record], retry_waits: Callable[[], list[float]]
) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    cfg = config(url, max_retries=2)
    out = tmp_path / "o.json"
    out.write_text("previous result\n")
    with pytest.raises(CotError, match=r"unreachable after 3 attempts.*nothing written"):
        generate_cot(pick(mc_records, ["A", "B"]), cfg, out, client=quiet_client(cfg))
    assert out.read_text() == "previous result\n"  # untouched
    assert len(retry_waits()) >= 2
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_wrong_model_name_aborts_without_retries(
    tmp_path: Path, teacher: Any, mc_records: list[Record]
) -> None:
    server = teacher(lambda body, n: (404, '{"error": "model teacher not found"}', {}))
    cfg = config(server.url, max_retries=3)
    with pytest.raises(CotError, match="HTTP 404.*--teacher-model"):
        generate_cot(pick(mc_records, ["A", "B", "A"]), cfg, tmp_path / "o.json", client=quiet_client(cfg))
    assert len(server.bodies) <= 2  # both workers may have sent one request; nobody retried
    assert not (tmp_path / "o.json").exists()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "<think>unclosed <answer>A",
        "<answer>A</answer><think>wrong order</think>",
        "<think>a</think><answer>A</answer><answer>B</answer>",
        "\x00\ud800" * 50,
        "<think>" * 10_000,
    ],
    ids=["empty", "unclosed", "order", "two-answers", "surrogates", "many-tags"],
)
def test_malformed_output_is_a_counted_rejection(
    tmp_path: Path, teacher: Any, mc_records: list[Record], text: str
) -> None:
    (a,) = pick(mc_records, ["A"])
    server = teacher(lambda body, n: ok(text))
    cfg = config(server.url)
    report = generate_cot([a], cfg, tmp_path / "o.json", client=quiet_client(cfg))
    assert report.rejected() == {"no_format": 1}
    assert json.loads((tmp_path / "o.json").read_text()) == []


# ------------------------------------------------------------------------------------ request content


def test_completion_text_reattaches_reasoning() -> None:
    body = {"choices": [{"message": {"content": "<answer>A</answer>", "reasoning_content": " saw it "}}]}
    assert completion_text(body) == ChatResult("<think>saw it</think>\n<answer>A</answer>", None)
    body = {"choices": [{"message": {"content": "x", "reasoning": "r"}, "finish_reason": "length"}]}
    assert completion_text(body) == ChatResult("<think>r</think>\nx", "length")
    for bad in ({}, {"choices": []}, {"choices": [{"message": {"content": 3}}]}, [1]):
        with pytest.raises(ValueError):
            completion_text(bad)


def test_reasoning_split_by_server_is_kept(tmp_path: Path, teacher: Any, mc_records: list[Record]) -> None:
    (a,) = pick(mc_records, ["A"])
    server = teacher(lambda body, n: ok("<answer>A</answer>", reasoning="The red one is first."))
    cfg = config(server.url)
    generate_cot([a], cfg, tmp_path / "o.json", client=quiet_client(cfg))
    assert (
        json.loads((tmp_path / "o.json").read_text())[0]["process"] == "<think>The red one is first.</think>"
    )


def test_request_body_frames_and_video_url(tmp_path: Path, teacher: Any, mc_records: list[Record]) -> None:
    import av
    from PIL import Image

    from videorft.data.cot.request import record_clip

    (a,) = pick(mc_records, ["A"])
    server = teacher(lambda body, n: ok("<think>t</think><answer>A</answer>"))
    frames_cfg = config(server.url, samples=2, seed=7, top_p=0.95, extra_body={"top_k": 5})
    generate_cot([a], frames_cfg, tmp_path / "f.json", client=quiet_client(frames_cfg))
    generate_cot([a], config(server.url, video_format="video_url"), tmp_path / "v.json")
    clip = record_clip(a, frames_cfg.budget)
    f0, f1, v = server.bodies

    assert [f0["seed"], f1["seed"]] == [7, 8]
    assert {k: f0[k] for k in ("model", "temperature", "max_tokens", "top_p", "top_k")} == {
        "model": "teacher",
        "temperature": 1.0,
        "max_tokens": 512,
        "top_p": 0.95,
        "top_k": 5,
    }
    parts = f0["messages"][0]["content"]
    images = [p for p in parts if p["type"] == "image_url"]
    assert len(images) == len(clip.frames) and parts[-1]["type"] == "text"
    first = Image.open(io.BytesIO(base64.b64decode(images[0]["image_url"]["url"].split(",", 1)[1])))
    assert first.size == (clip.frames.shape[2], clip.frames.shape[1])
    assert "seconds" in parts[-1]["text"]  # timing line: frames as images carry no time otherwise
    assert a.problem in parts[-1]["text"] and "<answer>" in parts[-1]["text"]

    vparts = v["messages"][0]["content"]
    assert [p["type"] for p in vparts] == ["video_url", "text"]
    assert "seconds" not in vparts[-1]["text"]
    data = base64.b64decode(vparts[0]["video_url"]["url"].removeprefix("data:video/mp4;base64,"))
    with av.open(io.BytesIO(data)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        rate = float(container.streams.video[0].average_rate)
    assert len(decoded) == len(clip.frames) and decoded[0].shape == clip.frames[0].shape
    assert rate == pytest.approx(clip.fps, rel=1e-3)
    assert abs(decoded[0].astype(int) - clip.frames[0].astype(int)).mean() < 4  # same picture, lossy codec


# ------------------------------------------------------------------------------------------------ CLI


def test_cli_end_to_end_and_errors(tmp_path: Path, teacher: Any, synth_suite_dir: Path, capsys: Any) -> None:
    from videorft.cli.main import main

    server = teacher(lambda body, n: ok("<think>look</think><answer>A</answer>"))
    spec = f"videor1:{synth_suite_dir / 'annotations' / 'train' / 'video_r1.json'}"
    out = tmp_path / "cot.json"
    common = ["data", "cot", "--data", spec, "--video-root", str(synth_suite_dir), "--teacher-model", "t"]
    rc = main([*common, "--teacher-url", server.url, "--out", str(out), "--limit", "4", "--no-progress"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    report = json.loads((tmp_path / "cot.json.report.json").read_text())
    rows = json.loads(out.read_text())
    assert report["records"] == 4 and report["kept"] == len(rows) >= 1
    assert f"wrote {len(rows)} CoT records" in captured.out
    assert len(load_spec(f"videor1:{out}").records) == len(rows)

    dead = f"http://127.0.0.1:{free_port()}/v1"
    bad_out = tmp_path / "dead.json"
    rc = main([*common, "--teacher-url", dead, "--out", str(bad_out), "--limit", "1", "--max-retries", "1",
               "--backoff", "0", "--no-progress"])  # fmt: skip
    assert rc == 1 and "unreachable after 2 attempts" in capsys.readouterr().err
    assert not bad_out.exists()

    rc = main([*common, "--teacher-url", server.url, "--out", str(bad_out), "--extra-body", "{oops"])
    assert rc == 1 and "--extra-body is not valid JSON" in capsys.readouterr().err
    rc = main(["data", "cot", "--data", f"videor1:{tmp_path / 'missing.json'}", "--teacher-url", server.url,
               "--teacher-model", "t", "--out", str(bad_out)])  # fmt: skip
    assert rc == 1 and "missing.json" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ other tasks


def test_grounding_rows_carry_canonical_solution(tmp_path: Path, teacher: Any, synth_suite_dir: Path) -> None:
    spec = f"charades_json:{synth_suite_dir / 'annotations' / 'train' / 'charades_sta.json'}"
    good, bad = load_spec(spec, video_root=str(synth_suite_dir / "videos")).records[:2]
    s, e = good.solution
    replies = {
        good.id: [ok(f"<think>It happens mid-clip.</think><answer>{s:.2f} to {e:.2f}</answer>")],
        bad.id: [ok("<think>No idea.</think><answer>0.0 to 0.1</answer>")],
    }

    def script(body: dict[str, Any], n: int) -> Reply:
        rid = good.id if f'"{good.problem}"' in prompt_of(body) else bad.id
        return replies[rid][0]

    assert good.problem != bad.problem
    server = teacher(script)
    cfg = config(server.url)
    report = generate_cot([good, bad], cfg, tmp_path / "g.json", client=quiet_client(cfg))
    assert report.by_task() == {"temporal_grounding": {"kept": 1, "low_reward": 1}}
    (row,) = json.loads((tmp_path / "g.json").read_text())
    assert row["problem_type"] == "temporal_grounding" and row["reward"] == pytest.approx(1.0, abs=0.01)
    assert row["solution"] == f"<answer>{s:.2f} to {e:.2f}</answer>"
    assert row["solution_value"] == [s, e] and row["meta"]["duration"] == good.meta["duration"]


def test_image_record_is_sent_as_one_image(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    from videorft.data.cot import build_messages
    from videorft.video import FrameBudget

    path = tmp_path / "img.png"
    Image.fromarray(np.full((60, 90, 3), 200, dtype=np.uint8)).save(path)
    record = Record("i", "multiple_choice", "Colour?", "A", image=str(path), options=["A. grey", "B. red"])
    (user,) = build_messages(record, budget=FrameBudget(min_pixels=28 * 28, max_pixels=56 * 84))
    assert [p["type"] for p in user["content"]] == ["image_url", "text"]
    assert "seconds" not in user["content"][1]["text"]  # a still image has no timing


def test_unreadable_video_is_a_counted_rejection(
    tmp_path: Path, teacher: Any, mc_records: list[Record]
) -> None:
    import dataclasses

    (a,) = pick(mc_records, ["A"])
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00not a video" * 100)
    bad = dataclasses.replace(a, id="broken", video=str(broken), meta=dict(a.meta))
    server = teacher(lambda body, n: ok("<think>t</think><answer>A</answer>"))
    cfg = config(server.url)
    report = generate_cot([bad, a], cfg, tmp_path / "o.json", client=quiet_client(cfg))
    assert report.by_task() == {"multiple_choice": {"kept": 1, "bad_input": 1}}
    assert len(server.bodies) == 1 and "broken.mp4" in report.outcomes[0].detail


def test_cli_every_request_failing_is_exit_1(
    tmp_path: Path, teacher: Any, synth_suite_dir: Path, capsys: Any
) -> None:
    from videorft.cli.main import main

    server = teacher(lambda body, n: (500, {"error": "overloaded"}, {}))
    spec = f"videor1:{synth_suite_dir / 'annotations' / 'train' / 'video_r1.json'}"
    out = tmp_path / "cot.json"
    rc = main(["data", "cot", "--data", spec, "--video-root", str(synth_suite_dir), "--teacher-model", "t",
               "--teacher-url", server.url, "--out", str(out), "--limit", "2", "--max-retries", "0",
               "--backoff", "0", "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 1 and "no CoT record kept out of 2" in err
    assert (tmp_path / "cot.json.report.json").exists()  # the report says why each request failed


def test_mp4_data_url_is_an_mp4_of_the_clip_frames_at_its_fps() -> None:
    import av
    import numpy as np

    from videorft.data.cot.request import mp4_data_url

    frames = np.random.default_rng(0).integers(0, 255, (6, 32, 48, 3), dtype=np.uint8)
    url = mp4_data_url(frames, 2.5)
    assert url.startswith("data:video/mp4;base64,")
    with av.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as container:
        assert "mp4" in container.format.name
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (48, 32)
        assert float(stream.average_rate) == 2.5
        assert sum(1 for _ in container.decode(stream)) == 6
