"""A small client for any OpenAI-compatible ``/chat/completions`` endpoint (vLLM, SGLang, `transformers serve`).

Failures come in two kinds, because they call for different actions:

- :class:`TeacherUnavailable`: the endpoint cannot be used at all (connection refused after every retry,
  HTTP 401/403/404). The run stops; nothing is written.
- :class:`SampleFailed`: one request failed for good (HTTP 5xx/429 or timeouts after every retry, HTTP 400
  such as a prompt longer than the context). The sample counts as a ``server_error`` rejection.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from videorft.chat_client import ChatCompletionsClient, RetriesExhausted, Retry, chat_url

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


class TeacherClient(ChatCompletionsClient):
    """The teacher endpoint: one completion per :meth:`chat`, failures sorted into the two kinds above.

    ``base_url`` is e.g. ``http://localhost:8000/v1``; the other arguments (timeout, retries, backoff
    with ``Retry-After``, connection limit, key variable) are those of :class:`ChatCompletionsClient`.
    """

    def __init__(self, base_url: str, *, timeout: float = 120.0, **client: Any) -> None:
        super().__init__(base_url, timeout=timeout, **client)
        self.sleep: Callable[[float], None] = time.sleep  # tests swap this to record the backoff

    def __enter__(self) -> TeacherClient:
        return self

    def chat(self, body: dict[str, Any]) -> ChatResult:
        """One completion for a request body, retrying transient failures."""
        try:
            return self.post(body, self._interpret, sleep=self.sleep)
        except RetriesExhausted as exc:
            if not exc.reached_server:
                raise TeacherUnavailable(
                    f"teacher {self.url} unreachable after {exc.attempts} attempts; last: {exc.last}"
                ) from None
            raise SampleFailed(f"no completion after {exc.attempts} attempts; last: {exc.last}") from None

    def _interpret(self, resp: Any) -> ChatResult:
        status = resp.status_code
        if status == 200:
            try:
                return completion_text(resp.json())
            except ValueError as exc:  # includes JSON decode errors
                raise Retry(f"malformed response ({exc}): {resp.text[:200]!r}") from None
        if status in FATAL_STATUS:
            raise TeacherUnavailable(
                f"teacher {self.url} answered HTTP {status}: {resp.text[:300]} "
                "(check --teacher-url, --teacher-model and the API key)"
            )
        if status in RETRY_STATUS or status >= 500:
            raise Retry.status(resp)
        # 400, 413, 422: this request is wrong for this server; retrying cannot help
        raise SampleFailed(f"HTTP {status}: {resp.text[:300]}")
