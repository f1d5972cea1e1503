"""The HTTP side of an OpenAI-compatible ``/chat/completions`` client, shared by the CoT teacher
(``videorft.data.cot.client``) and the LLM judge (``videorft.rewards.judges``).

It owns what both need: a lazily built, thread-safe ``httpx.Client`` (bearer key from an environment
variable, connection limits), bounded retries with jittered exponential backoff that honours
``Retry-After``, and ``requests`` / ``retries`` counters. What a response *means* stays with the
caller: :meth:`ChatCompletionsClient.post` hands every HTTP response to an ``interpret`` callable that
returns the result, raises :class:`Retry` to try again, or raises the caller's own error to stop.

It lives at the package root because ``rewards`` and ``data.cot`` must not import each other.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["ChatCompletionsClient", "Retry", "RetriesExhausted", "chat_url"]

T = TypeVar("T")


def chat_url(base_url: str) -> str:
    """``http://host:8000/v1`` -> ``http://host:8000/v1/chat/completions`` (a full URL is kept)."""
    url = base_url.rstrip("/")
    return url if url.endswith("/chat/completions") else url + "/chat/completions"


class Retry(Exception):
    """Raised by an ``interpret`` callable: this attempt failed, another one may succeed."""

    def __init__(self, reason: str, retry_after: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after

    @classmethod
    def status(cls, resp: Any) -> Retry:
        """A retryable HTTP status, with the server's ``Retry-After`` header if it sent one."""
        return cls(f"HTTP {resp.status_code}: {resp.text[:200]}", resp.headers.get("retry-after"))


class RetriesExhausted(Exception):
    """Every attempt failed with something worth retrying; callers turn it into their own error.

    ``reached_server`` is False when no attempt got past connecting (wrong host or port, server down).
    """

    def __init__(self, attempts: int, last: str, reached_server: bool) -> None:
        super().__init__(f"no success after {attempts} attempts; last: {last}")
        self.attempts = attempts
        self.last = last
        self.reached_server = reached_server


class ChatCompletionsClient:
    """Thread-safe JSON POSTs to one URL with bounded retries.

    Args:
        url: the endpoint, e.g. ``http://localhost:8000/v1`` (:func:`chat_url` appends the route).
        api_key_env: environment variable holding a key; unset -> no Authorization header.
        timeout: seconds per request (connect, read and write each).
        max_retries: retries after the first attempt (so ``max_retries + 1`` attempts at most).
        backoff_base / backoff_max: sleep ``base * 2**attempt`` seconds (capped, with jitter) between
            attempts; a ``Retry-After`` header is honoured up to ``backoff_max``.
        concurrency: most connections kept open (match the caller's worker count).

    Subclasses validate their own arguments first, so their error messages stay their own.
    """

    def __init__(
        self,
        url: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
        concurrency: int = 4,
    ) -> None:
        if max_retries < 0 or timeout <= 0 or concurrency < 1 or backoff_base < 0:
            raise ValueError("need max_retries >= 0, timeout > 0, concurrency >= 1 and backoff_base >= 0")
        self.url = chat_url(url)
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.concurrency = concurrency
        self.stats: dict[str, int] = {"requests": 0, "retries": 0}
        self._lock = threading.Lock()
        self._client: Any = None

    def _http(self) -> Any:
        """The shared ``httpx.Client``, built on first use (httpx is imported only then)."""
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
        """Close the connections; a later request opens new ones."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> ChatCompletionsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        if retry_after is not None:
            try:
                return min(self.backoff_max, max(0.0, float(retry_after)))
            except ValueError:  # an HTTP date: fall back to our own backoff
                pass
        return min(self.backoff_max, self.backoff_base * 2**attempt) * (0.5 + random.random() / 2)

    def post(
        self,
        body: dict[str, Any],
        interpret: Callable[[Any], T],
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> T:
        """POST ``body`` until ``interpret(response)`` returns, retrying transport errors and :class:`Retry`.

        Errors other than :class:`Retry` raised by ``interpret`` propagate at once (fatal statuses).
        Raises :class:`RetriesExhausted` when the attempts run out. ``sleep`` is the backoff wait
        (tests pass a recorder).
        """
        import httpx

        client = self._http()
        last = "no attempt"
        reached_server = False
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
                reached_server = True
                last = f"{type(exc).__name__}: {exc}"
            else:
                reached_server = True
                try:
                    return interpret(resp)
                except Retry as retry:
                    last, retry_after = retry.reason, retry.retry_after
            if attempt < self.max_retries:
                sleep(self.delay(attempt, retry_after))
        raise RetriesExhausted(self.max_retries + 1, last, reached_server)
