"""The shared chat-completions HTTP client: headers, retries, backoff, Retry-After, exhaustion, stats."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from videorft.chat_client import ChatCompletionsClient, RetriesExhausted, Retry, chat_url


class Scripted:
    """Local endpoint answering each POST with the next ``(status, text, headers)`` of ``replies``.

    ``("hang", seconds)`` sleeps before answering 200, to provoke a client read timeout.
    When the script is empty it answers 200 ``"done"``.
    """

    def __init__(self) -> None:
        self.replies: deque[Any] = deque()
        self.seen: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.seen.append(
                    {"body": body, "auth": self.headers.get("Authorization"), "path": self.path}
                )
                reply = owner.replies.popleft() if owner.replies else (200, "done", {})
                if reply[0] == "hang":
                    time.sleep(reply[1])
                    reply = (200, "late", {})
                status, text, headers = reply
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda *a: None  # a client that timed out hangs up mid-reply
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1/chat/completions"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()


@pytest.fixture
def server() -> Iterator[Scripted]:
    s = Scripted()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def body_text(resp: Any) -> str:
    """An interpret callable: 200 -> the body text; 5xx -> retry; anything else -> fatal."""
    if resp.status_code == 200:
        return resp.text
    if resp.status_code >= 500:
        raise Retry.status(resp)
    raise PermissionError(f"fatal {resp.status_code}")


def test_chat_url_appends_the_route_once() -> None:
    assert chat_url("http://h:8000/v1/") == "http://h:8000/v1/chat/completions"
    assert chat_url("http://h:8000/v1/chat/completions") == "http://h:8000/v1/chat/completions"


def test_post_sends_json_with_bearer_key_and_returns_interpretation(
    server: Scripted, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAT_CLIENT_TEST_KEY", "sk-123")
    with ChatCompletionsClient(server.url, api_key_env="CHAT_CLIENT_TEST_KEY") as client:
        assert client.post({"model": "m", "n": 1}, body_text) == "done"
        assert client.stats == {"requests": 1, "retries": 0}
    assert server.seen == [
        {"body": {"model": "m", "n": 1}, "auth": "Bearer sk-123", "path": "/v1/chat/completions"}
    ]
    monkeypatch.delenv("CHAT_CLIENT_TEST_KEY")
    with ChatCompletionsClient(server.url, api_key_env="CHAT_CLIENT_TEST_KEY") as client:
        client.post({}, body_text)
    assert server.seen[-1]["auth"] is None


def test_retries_with_jittered_exponential_backoff_then_succeeds(server: Scripted) -> None:
    server.replies.extend([(500, "boom", {}), (503, "busy", {}), (502, "bad", {})])
    sleeps: list[float] = []
    client = ChatCompletionsClient(server.url, max_retries=3, backoff_base=0.5, backoff_max=1.5)
    assert client.post({}, body_text, sleep=sleeps.append) == "done"
    assert len(server.seen) == 4
    assert client.stats == {"requests": 4, "retries": 3}
    # base * 2**attempt, capped at backoff_max, times a jitter factor in [0.5, 1]
    assert 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0 and 0.75 <= sleeps[2] <= 1.5
    client.close()


def test_retry_after_is_honoured_and_capped(server: Scripted) -> None:
    server.replies.extend(
        [
            (503, "", {"Retry-After": "0.25"}),
            (503, "", {"Retry-After": "120"}),
            (503, "", {"Retry-After": "soon"}),
        ]
    )
    sleeps: list[float] = []
    client = ChatCompletionsClient(server.url, max_retries=3, backoff_base=0.0, backoff_max=2.0)
    assert client.post({}, body_text, sleep=sleeps.append) == "done"
    assert sleeps == [0.25, 2.0, 0.0]  # an unparsable header falls back to backoff (base 0 here)
    client.close()


def test_fatal_error_from_interpret_stops_at_once(server: Scripted) -> None:
    server.replies.append((401, "no key", {}))
    sleeps: list[float] = []
    client = ChatCompletionsClient(server.url, max_retries=5)
    with pytest.raises(PermissionError, match="fatal 401"):
        client.post({}, body_text, sleep=sleeps.append)
    assert len(server.seen) == 1 and sleeps == []
    client.close()


def test_exhausted_retries_report_last_failure_and_that_the_server_answered(server: Scripted) -> None:
    server.replies.extend([(500, "first", {}), (500, "second", {}), (500, "third", {})])
    sleeps: list[float] = []
    client = ChatCompletionsClient(server.url, max_retries=2)
    with pytest.raises(RetriesExhausted) as info:
        client.post({}, body_text, sleep=sleeps.append)
    assert (info.value.attempts, info.value.last, info.value.reached_server) == (3, "HTTP 500: third", True)
    assert len(sleeps) == 2 and client.stats == {"requests": 3, "retries": 2}
    client.close()


def test_read_timeout_is_retried_and_counts_as_reaching_the_server(server: Scripted) -> None:
    server.replies.append(("hang", 1.0))
    client = ChatCompletionsClient(server.url, max_retries=1, timeout=0.3)
    assert client.post({}, body_text, sleep=lambda s: None) == "done"
    assert client.stats["retries"] == 1
    server.replies.extend([("hang", 1.0), ("hang", 1.0)])
    with pytest.raises(RetriesExhausted) as info:
        client.post({}, body_text, sleep=lambda s: None)
    assert info.value.reached_server and "Timeout" in info.value.last
    client.close()


def test_unreachable_endpoint_is_reported_as_never_reached() -> None:
    with socket.socket() as s:  # a port nothing listens on once this socket closes
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps: list[float] = []
    client = ChatCompletionsClient(f"http://127.0.0.1:{port}/v1/chat/completions", max_retries=1, timeout=2.0)
    with pytest.raises(RetriesExhausted) as info:
        client.post({}, body_text, sleep=sleeps.append)
    assert info.value.attempts == 2 and not info.value.reached_server
    assert info.value.last.startswith("cannot connect: ConnectError")
    assert len(sleeps) == 1
    client.close()


def test_close_then_reuse_opens_a_new_connection_pool(server: Scripted) -> None:
    client = ChatCompletionsClient(server.url)
    assert client.post({}, body_text) == "done"
    client.close()
    client.close()  # idempotent
    assert client.post({}, body_text) == "done"
    assert client.stats["requests"] == 2
    client.close()


@pytest.mark.parametrize("kw", [{"max_retries": -1}, {"timeout": 0}, {"concurrency": 0}])
def test_invalid_settings_are_rejected(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="max_retries >= 0"):
        ChatCompletionsClient("http://x/v1/chat/completions", **kw)
