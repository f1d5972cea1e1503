"""A small client for any OpenAI-compatible ``/chat/completions`` endpoint (vLLM, SGLang, `transformers serve`).

Failures come in two kinds, because they call for different actions:

- :class:`TeacherUnavailable`: the endpoint cannot be used at all (connection refused after every retry,
  HTTP 401/403/404). The run stops; nothing is written.
- :class:`SampleFailed`: one request failed for good (HTTP 5xx/429, timeouts or malformed replies after every
  retry, HTTP 400 such as a prompt longer than the context). The sample counts as a ``server_error`` rejection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from videorft.rewards.judges import ChatEndpoint, ChatFailed

__all__ = ["ChatResult", "SampleFailed", "TeacherClient", "TeacherUnavailable", "completion_text"]

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


class TeacherClient(ChatEndpoint):
    """The teacher endpoint: one completion per :meth:`chat`, failures sorted into the two kinds above.

    ``base_url`` is e.g. ``http://localhost:8000/v1``; the other arguments (timeout, retries, backoff with
    ``Retry-After``, key variable) are those of :class:`~videorft.rewards.judges.ChatEndpoint`.
    """

    def __init__(self, base_url: str, *, timeout: float = 120.0, **client: Any) -> None:
        super().__init__(base_url, timeout=timeout, **client)

    def chat(self, body: dict[str, Any]) -> ChatResult:
        """One completion for a request body, retrying transient failures and malformed replies."""
        try:
            return self.ask(body, completion_text)
        except ChatFailed as exc:
            if exc.status in FATAL_STATUS:
                raise TeacherUnavailable(
                    f"teacher {self.url} {exc} (check --teacher-url, --teacher-model and the API key)"
                ) from None
            if not exc.reached_server:
                raise TeacherUnavailable(f"teacher {self.url} {exc}") from None
            raise SampleFailed(str(exc)) from None
