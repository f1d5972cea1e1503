"""The chat-completions endpoint shared by the judge and the CoT teacher, through the openai client: key header,
retries, backoff, Retry-After, exhaustion, timeouts, unreachable servers, stats."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

from videorft.rewards.judges import ChatEndpoint, ChatFailed

from .chat_server import ChatServer

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def content(reply: Any) -> str:
    """A parse callable: the message text; an empty choices list is an unusable reply (ValueError)."""
    if not reply["choices"]:
        raise ValueError("no choices")
    return reply["choices"][0]["message"]["content"]


def test_full_url_is_accepted_and_the_key_travels_as_bearer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_CLIENT_TEST_KEY", "sk-123")
    with ChatServer() as server:
        with ChatEndpoint(server.url + "/chat/completions/", api_key_env="CHAT_CLIENT_TEST_KEY") as client:
            assert client.url == server.url + "/chat/completions"
            assert client.ask(BODY, content) == '{"entailed": false}'
            assert client.stats == {"requests": 1, "retries": 0}
        assert server.requests == [{"path": "/v1/chat/completions", "body": BODY, "auth": "Bearer sk-123"}]
        monkeypatch.delenv("CHAT_CLIENT_TEST_KEY")
        with ChatEndpoint(server.url, api_key_env="CHAT_CLIENT_TEST_KEY") as client:
            client.ask(BODY, content)
        assert server.requests[-1]["auth"] is None


def test_retries_with_jittered_exponential_backoff_then_succeeds(
    retry_waits: Callable[[], list[float]],
) -> None:
    with (
        ChatServer() as server,
        ChatEndpoint(server.url, max_retries=3, backoff_base=0.05, backoff_max=0.15) as c,
    ):
        server.script.extend([500, 503, 502])
        assert c.ask(BODY, content)
        assert len(server.requests) == 4 and c.stats == {"requests": 4, "retries": 3}
        d0, d1, d2 = (
            retry_waits()
        )  # base * 2**retry, capped at backoff_max, times a jitter factor in [0.5, 1]
        assert 0.025 <= d0 <= 0.05 and 0.05 <= d1 <= 0.1 and 0.075 <= d2 <= 0.15


def test_retry_after_is_honoured_and_capped(retry_waits: Callable[[], list[float]]) -> None:
    with (
        ChatServer() as server,
        ChatEndpoint(server.url, max_retries=3, backoff_base=0.0, backoff_max=0.2) as c,
    ):
        server.script.extend(
            [("status", 503, {"Retry-After": "0.05"}), ("status", 503, {"Retry-After": "100"})]
        )
        server.script.append(("status", 503, {"Retry-After": "soon"}))
        assert c.ask(BODY, content)
        assert retry_waits() == [0.05, 0.2, 0.0]  # an unparsable header falls back to backoff (base 0 here)


def test_a_status_not_worth_retrying_stops_at_once() -> None:
    with ChatServer() as server, ChatEndpoint(server.url, max_retries=5) as c:
        server.script.append(401)
        with pytest.raises(ChatFailed, match="answered HTTP 401: .*scripted 401") as info:
            c.ask(BODY, content)
        assert len(server.requests) == 1 and info.value.status == 401


def test_exhausted_retries_report_the_last_failure_and_that_the_server_answered() -> None:
    with ChatServer() as server, ChatEndpoint(server.url, max_retries=2, backoff_base=0.0) as c:
        server.script.extend([500, 500, 502])
        with pytest.raises(ChatFailed, match="no usable reply after 3 attempts; last: HTTP 502") as info:
            c.ask(BODY, content)
        assert (info.value.status, info.value.reached_server) == (502, True)
        assert c.stats == {"requests": 3, "retries": 2}


def json_text(reply: Any) -> str:
    """A stricter parse callable: prose instead of a JSON object is unusable."""
    text = content(reply)
    if not text.startswith("{"):
        raise ValueError(f"not JSON: {text[:40]}")
    return text


def test_unusable_replies_are_asked_again_within_the_same_budget() -> None:
    with ChatServer() as server, ChatEndpoint(server.url, max_retries=2, backoff_base=0.0) as c:
        server.script.extend([500, "garbage", "ok"])
        assert c.ask(BODY, json_text) == '{"entailed": false}'
        assert c.stats == {"requests": 3, "retries": 2}
        server.script.extend(["garbage"] * 5)
        with pytest.raises(ChatFailed, match="after 3 attempts; last: unusable reply \\(not JSON: Sure"):
            c.ask(BODY, json_text)
        assert len(server.requests) == 6


def test_read_timeout_is_retried_and_counts_as_reaching_the_server() -> None:
    with ChatServer() as server, ChatEndpoint(server.url, max_retries=1, timeout=0.3, backoff_base=0.0) as c:
        server.script.append(("sleep", 1.0))
        assert c.ask(BODY, content)
        assert c.stats["retries"] == 1
        server.script.extend([("sleep", 1.0), ("sleep", 1.0)])
        with pytest.raises(ChatFailed, match="after 2 attempts; last: ReadTimeout") as info:
            c.ask(BODY, content)
        assert info.value.reached_server


def test_unreachable_endpoint_is_reported_as_never_reached(retry_waits: Callable[[], list[float]]) -> None:
    with socket.socket() as s:  # a port nothing listens on once this socket closes
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with ChatEndpoint(f"http://127.0.0.1:{port}/v1", max_retries=1, timeout=2.0, backoff_base=0.01) as c:
        with pytest.raises(ChatFailed, match="unreachable after 2 attempts; last: ConnectError") as info:
            c.ask(BODY, content)
    assert not info.value.reached_server and info.value.status is None
    assert len(retry_waits()) == 1


def test_close_then_reuse_opens_a_new_client() -> None:
    with ChatServer() as server:
        client = ChatEndpoint(server.url)
        assert client.ask(BODY, content)
        client.close()
        client.close()  # idempotent
        assert client.ask(BODY, content)
        assert client.stats["requests"] == 2
        client.close()


@pytest.mark.parametrize("kw", [{"max_retries": -1}, {"timeout": 0}, {"backoff_base": -1.0}])
def test_invalid_settings_are_rejected(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="max_retries >= 0"):
        ChatEndpoint("http://x/v1", **kw)
