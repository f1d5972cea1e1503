"""A small client for any OpenAI-compatible ``/chat/completions`` endpoint (vLLM, SGLang, `transformers serve`).

Failures come in two kinds, because they call for different actions:

- :class:`TeacherUnavailable`: the endpoint cannot be used at all (connection refused after every retry,
  HTTP 401/403/404). The run stops; nothing is written.
- :class:`SampleFailed`: one request failed for good (HTTP 5xx/429 or timeouts after every retry, HTTP 400
  such as a prompt longer than the context). The sample counts as a ``server_error`` rejection.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ChatResult", "SampleFailed", "TeacherClient", "TeacherUnavailable", "chat_url", "completion_text"]

#: Statuses worth retrying: the server is busy, restarting or briefly broken.
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
#: Statuses that say the URL, model name or key is wrong: every later request would fail the same way.
FATAL_STATUS = frozenset({401, 403, 404})


class TeacherUnavailable(RuntimeError):
    """The teacher endpoint is unreachable or refuses us (wrong URL, model or key)."""


class SampleFailed(RuntimeError):
    """One request failed after its retries (or with a non-retryable error); the run goes on."""


@dataclass(frozen=True)
class ChatResult:
    """One completion: the text as the model wrote it (``<think>`` re-attached) and why it stopped."""

    text: str
    finish_reason: str | None = None


def chat_url(base_url: str) -> str:
    """``http://host:8000/v1`` -> ``http://host:8000/v1/chat/completions`` (a full URL is kept)."""
    url = base_url.rstrip("/")
    return url if url.endswith("/chat/completions") else url + "/chat/completions"


def completion_text(body: Any) -> ChatResult:
    """The completion of a chat-completions response body; ValueError when the body has none.

    Servers with a reasoning parser (vLLM ``--reasoning-parser``, `transformers serve`) move the
    ``<think>`` block into ``message.reasoning_content`` (or ``reasoning``); it is put back in front of
    the content, so the text is scored exactly as the model wrote it.
    """
    try:
        choice = body["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError):
        raise ValueError("response has no choices[0].message") from None
    if not isinstance(message, dict):
        raise ValueError("choices[0].message is not an object")
    content = message.get("content")
    if content is None:
        content = ""
    if not isinstance(content, str):
        raise ValueError(f"choices[0].message.content is {type(content).__name__}, not a string")
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning.strip() and "<think>" not in content:
        content = f"<think>{reasoning.strip()}</think>\n{content.lstrip()}"
    finish = choice.get("finish_reason") if isinstance(choice, dict) else None
    return ChatResult(_valid_unicode(content), finish if isinstance(finish, str) else None)


def _valid_unicode(text: str) -> str:
    """Lone surrogates (legal as JSON escapes) replaced by U+FFFD, so the text can be stored and written."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


class TeacherClient:
    """Thread-safe POSTs to ``/chat/completions`` with bounded retries and exponential backoff.

    Args:
        base_url: e.g. ``http://localhost:8000/v1``.
        api_key_env: environment variable holding a key; unset -> no Authorization header.
        timeout: seconds per request (connect, read and write each).
        max_retries: retries after the first attempt (so ``max_retries + 1`` attempts at most).
        backoff_base / backoff_max: sleep ``base * 2**attempt`` seconds (capped, with jitter) between
            attempts; a ``Retry-After`` header is honoured up to ``backoff_max``.
        concurrency: most connections kept open (match the caller's worker count).
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 120.0,
        max_retries: int = 3,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
        concurrency: int = 4,
    ) -> None:
        if max_retries < 0 or timeout <= 0 or concurrency < 1 or backoff_base < 0:
            raise ValueError("need max_retries >= 0, timeout > 0, concurrency >= 1 and backoff_base >= 0")
        self.url = chat_url(base_url)
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.concurrency = concurrency
        self.sleep: Callable[[float], None] = time.sleep  # tests swap this to record the backoff
        self.stats = {"requests": 0, "retries": 0}
        self._lock = threading.Lock()
        self._client: Any = None

    def _http(self) -> Any:
        with self._lock:
            if self._client is None:
                import httpx

                headers = {"Content-Type": "application/json"}
                key = os.environ.get(self.api_key_env)
                if key:
                    headers["Authorization"] = f"Bearer {key}"
                limits = httpx.Limits(
                    max_connections=self.concurrency, max_keepalive_connections=self.concurrency
                )
                self._client = httpx.Client(headers=headers, timeout=self.timeout, limits=limits)
            return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> TeacherClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        if retry_after is not None:
            try:
                return min(self.backoff_max, max(0.0, float(retry_after)))
            except ValueError:
                pass
        return min(self.backoff_max, self.backoff_base * 2**attempt) * (0.5 + random.random() / 2)

    def chat(self, body: dict[str, Any]) -> ChatResult:
        """One completion for a request body, retrying transient failures."""
        import httpx

        client = self._http()
        last = "no attempt"
        unreachable = True  # every attempt failed before reaching the server
        for attempt in range(self.max_retries + 1):
            with self._lock:
                self.stats["requests"] += 1
                self.stats["retries"] += attempt > 0
            retry_after = None
            try:
                resp = client.post(self.url, json=body)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                last = f"cannot connect: {type(exc).__name__}: {exc}"
            except httpx.HTTPError as exc:  # read/write timeouts, dropped connections
                unreachable = False
                last = f"{type(exc).__name__}: {exc}"
            else:
                unreachable = False
                status = resp.status_code
                if status == 200:
                    try:
                        return completion_text(resp.json())
                    except ValueError as exc:  # includes JSON decode errors
                        last = f"malformed response ({exc}): {resp.text[:200]!r}"
                elif status in FATAL_STATUS:
                    raise TeacherUnavailable(
                        f"teacher {self.url} answered HTTP {status}: {resp.text[:300]} "
                        "(check --teacher-url, --teacher-model and the API key)"
                    )
                elif status in RETRY_STATUS or status >= 500:
                    last = f"HTTP {status}: {resp.text[:200]}"
                    retry_after = resp.headers.get("retry-after")
                else:  # 400, 413, 422: this request is wrong for this server; retrying cannot help
                    raise SampleFailed(f"HTTP {status}: {resp.text[:300]}")
            if attempt < self.max_retries:
                self.sleep(self.delay(attempt, retry_after))
        attempts = self.max_retries + 1
        if unreachable:
            raise TeacherUnavailable(
                f"teacher {self.url} unreachable after {attempts} attempts; last: {last}"
            )
        raise SampleFailed(f"no completion after {attempts} attempts; last: {last}")
