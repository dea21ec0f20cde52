"""An OpenAI-compatible chat completions stub on 127.0.0.1 that replays stored answers, one per report.

POST http://127.0.0.1:PORT/<report>/v1/chat/completions answers with the stored answer of
<report> (tests/draft_gold/llm/<report>.json, its "answer") as choices[0].message.content. No
model is called; the stub only lets the LLM backend's checks be measured on fixed answers.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class ReplayStub:
    """The stub server; start() binds 127.0.0.1 on a free port, stop() shuts it down."""

    def __init__(self, folder: Path) -> None:
        self.answers = {
            p.stem: json.loads(p.read_text(encoding="utf-8"))["answer"] for p in folder.glob("*.json")
        }
        self.asked: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    def url(self, name: str) -> str:
        assert self._server is not None, "start the stub first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/{name}/v1/chat/completions"

    def start(self) -> None:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                name = self.path.strip("/").split("/")[0]
                stub.asked.append(name)
                if name not in stub.answers:
                    self.send_response(404)
                    self.end_headers()
                    return
                content = json.dumps(stub.answers[name])
                data = json.dumps(
                    {"choices": [{"message": {"role": "assistant", "content": content}}]}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
