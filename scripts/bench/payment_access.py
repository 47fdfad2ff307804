#!/usr/bin/env python3
"""Payment -> access delay on the local stack (issue: p95 under 1 s).

Starts `scripts/dev --release` on its own port with APP_WEBHOOK_URL pointing
at a receiver in this script, then sends N signed `checkout.session.completed`
events (a new app user each, `client_reference_id` = user id) at RATE events/s
from CONCURRENCY senders. For each user it measures the time from sending the
Stripe event to receiving the `member.access_changed` webhook (access `full`)
that the function delivers right after its response (wait_until path, no
cron). Prints p50/p95/p99/max.

    scripts/bench/payment_access.py                 # 1000 events at 200/s
    N=2000 RATE=400 scripts/bench/payment_access.py
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
N = int(os.environ.get("N", "1000"))
RATE = float(os.environ.get("RATE", "200"))
CONCURRENCY = int(os.environ.get("CONCURRENCY", "16"))
PORT = int(os.environ.get("PORT", "3191"))
RECEIVER_PORT = int(os.environ.get("RECEIVER_PORT", "3192"))

sent = {}
received = {}
lock = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        now = time.monotonic()
        try:
            event = json.loads(body)
            data = event.get("data", {})
            if event.get("type") == "member.access_changed" and data.get("access") == "full":
                with lock:
                    received.setdefault(data.get("user_id"), now)
        except ValueError:
            pass
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def stripe_secret():
    with open(os.path.join(ROOT, ".dev", "env")) as f:
        for line in f:
            if line.startswith("STRIPE_WEBHOOK_SECRET="):
                return line.split("=", 1)[1].strip().split(",")[0]
    sys.exit("no STRIPE_WEBHOOK_SECRET in .dev/env: run scripts/dev once first")


def send(i, secret, run):
    due = start + i / RATE
    time.sleep(max(0.0, due - time.monotonic()))
    user = f"pa{run}u{i}"
    now = int(time.time())
    body = json.dumps({
        "id": f"evt_pa{run}x{i}", "object": "event", "api_version": "2025-09-30.clover",
        "created": now, "livemode": False, "type": "checkout.session.completed",
        "data": {"object": {
            "id": f"cs_pa{run}x{i}", "object": "checkout.session", "mode": "subscription",
            "payment_status": "paid", "status": "complete", "currency": "usd",
            "amount_total": 2900, "customer": f"cus_pa{run}x{i}", "client_reference_id": user,
            "customer_details": {"email": f"{user}@example.com", "name": "Bench"},
            "metadata": {}, "subscription": f"sub_pa{run}x{i}"}}}).encode()
    sig = hmac.new(secret.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    req = urllib.request.Request(
        f"http://127.0.0.1:{PORT}/api/webhooks/stripe", data=body, method="POST",
        headers={"stripe-signature": f"t={now},v1={sig}", "content-type": "application/json"})
    with lock:
        sent[user] = time.monotonic()
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status == 200


def pct(xs, p):
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


def main():
    global start
    receiver = ThreadingHTTPServer(("127.0.0.1", RECEIVER_PORT), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    env = dict(os.environ, PORT=str(PORT), DEV_CRONS="off", RUST_LOG="warn",
               APP_WEBHOOK_URL=f"http://127.0.0.1:{RECEIVER_PORT}/hooks",
               APP_WEBHOOK_SECRET="whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())
    log = open(os.path.join(ROOT, ".dev", "bench-payment-access.log"), "w")
    server = subprocess.Popen([os.path.join(ROOT, "scripts", "dev"), "--release"], env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        for _ in range(900):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/api/health", timeout=2)
                break
            except OSError:
                time.sleep(1)
        secret = stripe_secret()
        run = secrets.token_hex(4)
        start = time.monotonic()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            ok = sum(pool.map(lambda i: send(i, secret, run), range(N)))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(received) < N:
            time.sleep(0.1)
        delays = sorted((received[u] - sent[u]) * 1000 for u in sent if u in received)
        print(f"payment->access: {ok}/{N} events accepted at {RATE:.0f}/s offered, "
              f"{len(delays)} access webhooks received; delay ms p50 {pct(delays, 0.5):.1f} "
              f"p95 {pct(delays, 0.95):.1f} p99 {pct(delays, 0.99):.1f} max {delays[-1] if delays else float('nan'):.1f}")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        receiver.shutdown()


if __name__ == "__main__":
    main()
