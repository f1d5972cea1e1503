"""Reward throughput: rule rewards (completions/s, one core), text metrics, adversarial scaling, judges.

Run: ``.venv/bin/python benchmarks/bench_rewards.py [--quick]`` (prints JSON). ``run(quick)`` is the
entry point a ``videorft bench`` command can call. Everything is measured in this process, on
this machine; the judge endpoint is a local stub with a fixed latency, so its numbers measure the
client (concurrency, cache), not a model.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from videorft.rewards import get_reward, get_task_reward
from videorft.rewards.judges import OfflineEmbeddingJudge, OpenAIChatJudge

T = "<think>The person walks to the door, then at about 12 s the door opens.</think>\n"


def _rule_samples(n: int, rng: random.Random) -> list[tuple[str, str, Any]]:
    """A mix of realistic, wrong and malformed completions over the rule-scored tasks."""
    boxes = [[0.1, 0.1, 0.5, 0.5]] * 8
    pool: list[tuple[str, str, Any]] = [
        ("temporal_grounding", f"{T}<answer>12.54 to 17.83</answer>", [14.0, 20.0]),
        ("temporal_grounding", "<answer>from 3 to 9 seconds</answer>", [4.0, 8.0]),
        ("tracking", f"{T}<answer>{boxes}</answer>", boxes),
        ("multiple_choice", f"{T}<answer>The answer is (C).</answer>", "<answer>C</answer>"),
        ("multiple_choice", f"{T}<answer>B</answer><answer>C</answer>", "C"),
        ("numerical", f"{T}<answer>1,024</answer>", "1024"),
        ("regression", f"{T}<answer>9.5</answer>", 10),
        ("quality", f"{T}<answer>high quality</answer>", "high quality"),
        (
            "grounding_qa",
            f"{T}<answer>A</answer><glue>[(1.0, 5.5), (7, 9)]</glue>",
            {"answer": "A", "intervals": [[2, 6]]},
        ),
        ("temporal_grounding", "garbage without tags " * 20, [1.0, 2.0]),
    ]
    return [pool[rng.randrange(len(pool))] for _ in range(n)]


def _per_second(fn: Any, items: list[Any]) -> float:
    start = time.perf_counter()
    for item in items:
        fn(*item)
    return len(items) / (time.perf_counter() - start)


def bench_rules(n: int) -> dict[str, float]:
    rng = random.Random(0)
    samples = _rule_samples(n, rng)
    rewards = {task: get_task_reward(task) for task, _, _ in samples}
    _per_second(lambda t, c, s: rewards[t].score(c, s), samples[:200])  # warm-up
    out = {"rule_rewards_per_s": _per_second(lambda t, c, s: rewards[t].score(c, s), samples)}
    fmt = get_reward("format")
    out["format_reward_per_s"] = _per_second(lambda c: fmt(c), [(c,) for _, c, _ in samples])
    text = [
        ("ocr", f"{T}<answer>STOP AHEAD slow</answer>", "STOP AHEAD"),
        ("free_form", f"{T}<answer>a man opens the door and walks in</answer>", "the man opened the door"),
    ] * max(1, n // 20)
    text_rewards = {task: get_task_reward(task) for task, _, _ in text}
    _per_second(lambda t, c, s: text_rewards[t].score(c, s), text[:4])
    out["text_rewards_per_s"] = _per_second(lambda t, c, s: text_rewards[t].score(c, s), text)
    return out


def bench_scaling(sizes: tuple[int, int]) -> dict[str, float]:
    """Seconds for all rewards on an adversarial string of each size; ratio ~ size ratio if linear."""
    names = ["format", "temporal_iou", "tracking_iou", "mc_accuracy", "numerical_accuracy", "gqa_iou"]
    sols = {"temporal_iou": [1, 2], "tracking_iou": [[0, 0, 1, 1]], "mc_accuracy": "A", "numerical_accuracy": "1",
            "gqa_iou": {"answer": "A", "intervals": [[1, 2]]}}  # fmt: skip
    seconds = []
    for size in sizes:
        text = "<think>" + "1 to [(" * (size // 7) + "</think><answer>" + "9" * size + "</answer>"
        start = time.perf_counter()
        for name in names:
            get_reward(name)(text, sols.get(name))
        seconds.append(time.perf_counter() - start)
    return {
        f"adversarial_{sizes[0] // 1_000_000}mb_s": seconds[0],
        f"adversarial_{sizes[1] // 1_000_000}mb_s": seconds[1],
        "adversarial_time_ratio": seconds[1] / seconds[0],
        "adversarial_size_ratio": sizes[1] / sizes[0],
    }


class _StubServer:
    """Chat-completions stub answering {"entailed": true} after ``latency`` seconds."""

    def __init__(self, latency: float) -> None:
        body = json.dumps(
            {"choices": [{"message": {"role": "assistant", "content": '{"entailed": true}'}}]}
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(latency)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _caption_items(n: int) -> list[tuple[list[str], str]]:
    events = ["a man opens the door", "he sits on a chair", "a dog barks", "someone drinks coffee"]
    return [(events, f"Caption {i}: a man opens the door and sits down on a chair.") for i in range(n)]


def bench_openai_judge(n: int, latency: float = 0.02) -> dict[str, float]:
    server = _StubServer(latency)
    items = _caption_items(n)
    out: dict[str, float] = {}
    try:
        for conc in (1, 8):
            judge = OpenAIChatJudge(server.url, "stub", concurrency=conc)
            start = time.perf_counter()
            judge.entails_many(items)
            out[f"openai_judge_events_per_s_c{conc}"] = sum(len(e) for e, _ in items) / (
                time.perf_counter() - start
            )
            start = time.perf_counter()
            judge.entails_many(items)  # same questions again: all from the cache
            out[f"openai_judge_cached_events_per_s_c{conc}"] = sum(len(e) for e, _ in items) / (
                time.perf_counter() - start
            )
            out["judge_cache_hit_rate"] = judge.cache_hit_rate
            judge.close()
    finally:
        server.close()
    out["openai_stub_latency_s"] = latency
    return out


def bench_offline_judge(n: int) -> dict[str, float]:
    start = time.perf_counter()
    judge = OfflineEmbeddingJudge()
    judge.entails(["warm up"], "warm up.")
    out = {"offline_judge_load_s": time.perf_counter() - start}
    items = _caption_items(n)
    n_events = sum(len(e) for e, _ in items)
    start = time.perf_counter()
    judge.entails_many(items)
    out["offline_judge_events_per_s"] = n_events / (time.perf_counter() - start)
    start = time.perf_counter()
    judge.entails_many(items)
    out["offline_judge_cached_events_per_s"] = n_events / (time.perf_counter() - start)
    return out


def run(quick: bool) -> dict[str, float]:
    """All reward benchmarks; ``quick`` shrinks the workloads (~20 s instead of ~1 min)."""
    results: dict[str, float] = {}
    results.update(bench_rules(4_000 if quick else 40_000))
    results.update(bench_scaling((1_000_000, 4_000_000) if quick else (1_000_000, 10_000_000)))
    results.update(bench_openai_judge(25 if quick else 100))
    results.update(bench_offline_judge(16 if quick else 128))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(parser.parse_args().quick), indent=2))
