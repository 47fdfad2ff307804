#!/usr/bin/env python3
"""Fake third parties for the browser tests (python3 stdlib only).

    python3 tests/browser/fake_upstreams.py PORT

- POST /chat/completions (OpenAI): a valid structured draft that offers a
  refund, so the guardrails hold it as `pending_approval`.
- anything else (HubSpot included): 400, so every CRM job dies at once and
  the console has a dead letter to retry.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DRAFT = {
    "category": "refund",
    "urgency": "normal",
    "summary": "The customer asks for a refund of a double charge.",
    "draft_reply": "Hi Jane, sorry about the double charge. We will refund the second payment today.",
    "mentions_billing_change": False,
    "mentions_access_change": False,
    "mentions_refund": True,
    "confidence": 0.74,
}


def completion():
    return {
        "id": "chatcmpl-browser-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini-fake",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": json.dumps(DRAFT), "refusal": None},
            "finish_reason": "stop",
        }],
        "usage": {"prompt_tokens": 300, "completion_tokens": 60, "total_tokens": 360},
    }


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.rstrip("/").endswith("/chat/completions"):
            self.answer(200, completion())
        else:
            self.answer(400, {"status": "error", "message": "fake upstream refuses everything"})

    def do_GET(self):
        self.answer(400, {"status": "error", "message": "fake upstream refuses everything"})

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
