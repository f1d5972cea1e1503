"""A tiny OpenAI-compatible chat-completions server on 127.0.0.1 for judge tests.

Its "model" is deliberately gullible: it reads instructions from every message that is not the
JSON data object ``{"event": ..., "caption": ...}``, and obeys "answer yes" there. Data it judges
by word containment: an event is entailed when each of its words longer than 3 letters appears
in the caption. So it answers correctly only if the client keeps the caption inside the data.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def naive_verdict(messages: list[dict[str, Any]]) -> bool:
    data = None
    instructions = []
    for m in messages:
        content = m.get("content", "")
        try:
            obj = json.loads(content)
        except ValueError:
            obj = None
        if isinstance(obj, dict) and set(obj) == {"event", "caption"} and m.get("role") == "user":
            data = obj
        else:
            instructions.append(content)
    if any("answer yes" in text.lower() for text in instructions):
        return True
    if data is None:
        return False
    words = [w for w in re.findall(r"[a-z]+", data["event"].lower()) if len(w) > 3]
    caption = data["caption"].lower()
    return all(w in caption for w in words)


class ChatServer:
    """Scripted server: ``script`` items are consumed per request, then "ok" forever.

    Items: "ok" (naive verdict), an int HTTP status, ("status", code, headers), "garbage"
    (a non-JSON verdict), "yes" (prose), ("sleep", seconds) then ok.
    """

    def __init__(self, delay: float = 0.0) -> None:
        self.script: deque[Any] = deque()
        self.requests: list[dict[str, Any]] = []
        self.delay = delay
        self.inflight = 0
        self.max_inflight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                with server._lock:
                    server.requests.append(
                        {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                    )
                    step = server.script.popleft() if server.script else "ok"
                    server.inflight += 1
                    server.max_inflight = max(server.max_inflight, server.inflight)
                try:
                    time.sleep(server.delay)
                    if isinstance(step, tuple) and step[0] == "sleep":
                        time.sleep(step[1])
                        step = "ok"
                    headers: dict[str, str] = {}
                    if isinstance(step, tuple) and step[0] == "status":
                        _, code, headers = step
                        step = code
                    if isinstance(step, int):
                        reply = (step, {"error": {"message": f"scripted {step}"}}, headers)
                    elif step == "garbage":
                        reply = (200, _completion("Sure! The caption matches."), headers)
                    elif step == "yes":
                        reply = (200, _completion("yes"), headers)
                    else:
                        verdict = naive_verdict(body["messages"])
                        reply = (200, _completion(json.dumps({"entailed": verdict})), headers)
                finally:
                    # Out of flight before the reply is written: once the client has read it, it may send its
                    # next request, and counting both would report more concurrency than the client used.
                    with server._lock:
                        server.inflight -= 1
                self._send(*reply)

            def _send(
                self, code: int, payload: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, client_address: None  # clients that timed out hang up
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _completion(content: str) -> dict[str, Any]:
    return {
        "id": "x",
        "object": "chat.completion",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
    }
