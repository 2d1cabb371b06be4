"""A small OpenAI-compatible server for the backend's unit tests: the protocol's shape, failures and timing.

Not a model and not vLLM (tests/test_openai_backend.py's integration test runs against a real server): each model
answers ``"<model> উত্তর <n>"`` word by word, where n counts that model's requests. Models named ``broken`` answer
500, ``slow`` wait ``slow_s`` before the first byte, ``stall`` send one word and then nothing for ``slow_s``.
Every request body is kept, and the most requests ever in flight at once is counted.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeServer:
    def __init__(
        self, models: list[str], slow_s: float = 3.0, word_delay_s: float = 0.0, roots: dict[str, str] | None = None
    ) -> None:
        self.models, self.slow_s, self.word_delay_s = list(models), slow_s, word_delay_s
        self.roots = dict(roots or {})  # model -> the "root" /v1/models reports (vLLM: the base or adapter path)
        self.requests: list[dict] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _json(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path.rstrip("/") == "/v1/models":
                    self._json(
                        200,
                        {
                            "object": "list",
                            "data": [{"id": m, "object": "model", "root": owner.roots.get(m)} for m in owner.models],
                        },
                    )
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with owner.lock:
                    owner.requests.append({**body, "authorization": self.headers.get("Authorization")})
                    owner.in_flight += 1
                    owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
                    n = owner.counts[body["model"]] = owner.counts.get(body["model"], 0) + 1
                try:
                    owner.answer(self, body, n)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with owner.lock:
                        owner.in_flight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, handler, body: dict, n: int) -> None:
        model = body["model"]
        if model not in self.models:
            handler._json(404, {"error": {"message": f"The model `{model}` does not exist."}})
            return
        if model == "broken":
            handler._json(500, {"error": {"message": "internal error"}})
            return
        if model == "slow":
            time.sleep(self.slow_s)
        words = f"{model} উত্তর {n}".split()[: max(1, body.get("max_tokens", 16))]
        if not body.get("stream"):
            text = " ".join(words)
            handler._json(
                200,
                {"choices": [{"message": {"role": "assistant", "content": text}}], "usage": {"completion_tokens": 3}},
            )
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        for i, word in enumerate(words):
            piece = word if i == 0 else " " + word
            chunk = {"choices": [{"index": 0, "delta": {"content": piece}}]}
            handler.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
            handler.wfile.flush()
            if model == "stall":
                time.sleep(self.slow_s)
            time.sleep(self.word_delay_s)
        usage = {"choices": [], "usage": {"completion_tokens": len(words)}}
        handler.wfile.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())
        handler.wfile.flush()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
