#!/usr/bin/env python3
"""Fault matrix of the pve driver, through one long-lived prlkit-cpf process (as RAS runs
it) against the fake Proxmox server (tests/fakes/pve/fake-pve.py):

  unreachable        nothing listens on the platform's port
  killed mid-request the platform's end of every connection is torn down (RST) while a
                     request is in flight, as when the process dies
  slow               the platform accepts but answers later than request_timeout
  5xx storm          every request answered 503: reads are retried, then fail; writes
                     fail at once (never repeated)
  ticket expired     Proxmox tickets stop working: one transparent re-login
  credentials refused every request answered 401

Each fault must give a clean error reply (a CPF error envelope, no secret) within the
configured bound, and the same process must work again once the platform is back. The
platform sits behind a TCP proxy of this test, so "unreachable" and "killed" happen to
the connection while the fake (and its certificate) stays the same.

TAP; one line of measurements per fault ("# fault: ... s"). Skips when prlkit-cpf is not
built, or python3/openssl are missing. doc/reliability.md shows the results."""

import json
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import ssl

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("top_srcdir") or os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "cpf"))
from cpfharness import Provider, Tap, provider_path  # noqa: E402

FAKE = os.path.join(SRCDIR, "tests", "fakes", "pve", "fake-pve.py")
REQUEST_TIMEOUT = 2.0      # pve request_timeout: a whole request, retries included
WAIT_TIMEOUT = 6.0         # prlkit-cpf's bounded wait for an answer
BOUND = WAIT_TIMEOUT + 2.0  # an error must come before this (s); a hang is far beyond


class Fake:
    def __init__(self, workdir):
        self.dir = tempfile.mkdtemp(prefix="fake-pve.", dir=workdir)
        ready = os.path.join(self.dir, "ready.json")
        self.proc = subprocess.Popen(
            [sys.executable, FAKE, "--ready-file", ready, "--cert-dir", self.dir,
             "--auth-delay-ms", "0", "--task-ms", "10", "--clone-ms", "30",
             "--parent-pid", str(os.getpid())], stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "fake.log"), "w"))
        for _ in range(3000):
            if os.path.exists(ready):
                break
            if self.proc.poll() is not None:
                raise RuntimeError("fake-pve.py exited during start-up")
            time.sleep(0.01)
        with open(ready) as f:
            self.facts = json.load(f)
        self.ctx = ssl.create_default_context(cafile=self.facts["ca_file"])
        self.ctx.check_hostname = False

    def admin(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.facts["url"] + "/_fake" + path, data=data,
                                     method=method)
        with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
            answer = json.loads(r.read() or b"null")
        return answer.get("data") if isinstance(answer, dict) and "data" in answer else answer

    def fault(self, **rule):
        self.admin("POST", "/faults", rule)

    def clear(self):
        self.admin("DELETE", "/faults")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Proxy:
    """A TCP forwarder in front of the fake: up (forwards), down (refuses connections),
    blackhole (accepts, never answers), kill() (RSTs every open connection)."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.lock = threading.Lock()
        self.conns = []            # lock: open sockets (both sides)
        self.mode = "up"           # lock
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.listener = None
        self.stop_flag = False
        self.listen()

    def listen(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        self.listener = s
        threading.Thread(target=self.accept_loop, args=(s,), daemon=True).start()

    def set_mode(self, mode):
        with self.lock:
            old, self.mode = self.mode, mode
        if mode == "down" and self.listener:
            # shutdown wakes the accept() blocked on it; close alone would not.
            try:
                self.listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.listener.close()     # connection refused from now on
            self.listener = None
            self.kill()
        elif mode == "blackhole":
            self.kill()               # kept-alive connections must not carry on
        elif mode != "down" and old == "down":
            self.listen()

    def kill(self):
        with self.lock:
            conns, self.conns = self.conns, []
        for c in conns:
            try:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.close()
            except OSError:
                pass

    def accept_loop(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with self.lock:
                mode = self.mode
                self.conns.append(client)
            if mode == "blackhole":
                continue                       # held open, never answered
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns.append(upstream)
            threading.Thread(target=self.pump, args=(client, upstream), daemon=True).start()

    def pump(self, a, b):
        socks = [a, b]
        try:
            while True:
                r, _, _ = select.select(socks, [], [], 1.0)
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        raise OSError("closed")
                    (b if s is a else a).sendall(data)
        except (OSError, ValueError):
            for s in socks:
                try:
                    s.close()
                except OSError:
                    pass


def timed(p, method, params=None):
    t0 = time.monotonic()
    r = p.call(method, params)
    return r, time.monotonic() - t0


def clean_error(r, secrets):
    """None if r is an error envelope without a secret, else what is wrong."""
    if "error" not in r:
        return "expected an error, got %r" % (r,)
    text = json.dumps(r)
    for s in secrets:
        if s in text:
            return "a secret shows in %r" % text
    return None


def main():
    tap = Tap()
    try:
        cpf = provider_path()
    except RuntimeError as e:
        tap.skip("pve fault matrix", str(e))
        return tap.done()
    if shutil.which("openssl") is None:
        tap.skip("pve fault matrix", "openssl missing (the fake makes its certificates)")
        return tap.done()
    work = tempfile.mkdtemp(prefix="pve-faults.", dir=os.environ.get("PRLKIT_TEST_TMPDIR"))
    fake = Fake(work)
    proxy = Proxy(fake.facts["port"])
    f = fake.facts
    base = {"driver": "pve", "host": "127.0.0.1:%d" % proxy.port, "ca_file": f["ca_file"],
            "request_timeout": str(REQUEST_TIMEOUT), "connect_timeout": "1",
            "wait_timeout": str(WAIT_TIMEOUT), "inventory_cache_ms": "0",
            "config_cache_ttl": "0", "task_poll_ms": "20"}
    token = dict(base, username=f["user"], token_name=f["token_id"].split("!", 1)[1],
                 token_secret=f["token_secret"])
    ticket = dict(base, username=f["user"], password=f["password"])
    secrets = [f["token_secret"], f["password"]]
    results = []

    def fault_case(p, name, method, params, inject, heal, check_reply=None):
        inject()
        r, dt = timed(p, method, params)
        why = clean_error(r, secrets) if check_reply is None else check_reply(r)
        heal()
        ok1 = tap.ok(why is None and dt < BOUND,
                     "%s: %s gives a clean error in %.2f s (bound %.0f s)" %
                     (name, method, dt, BOUND), why)
        r2, dt2 = timed(p, method, params)
        ok2 = tap.ok("result" in r2, "%s: the same process recovers when the platform is "
                     "back (%.2f s)" % (name, dt2), r2)
        msg = r.get("error", {}).get("message", "") if isinstance(r, dict) else ""
        tap.diag("fault: %s | %s | error after %.2f s | %s | recovered: %s" %
                 (name, method, dt, msg[:160], "yes" if ok2 else "NO"))
        results.append((name, method, dt, msg, ok1 and ok2))

    p = Provider(args=["--driver", "pve"])
    try:
        r = p.connect(token)
        if not tap.ok("result" in r, "connect to the fake through the proxy (API token)", r):
            return tap.done()
        guests = p.result("guests/list")["guests"]
        tap.ok(len(guests) > 0, "guests/list works before any fault (%d guests)" % len(guests))
        vm = sorted(guests)[0]
        running = [g for g in guests
                   if p.result("guests/get", {"id": g})["state"] == "powered_on"]

        fault_case(p, "unreachable", "guests/list", None,
                   lambda: proxy.set_mode("down"), lambda: proxy.set_mode("up"))

        # The platform dies while it works on the request, and stays away.
        def die_mid_request():
            fake.fault(kind="slow", match="GET /cluster/resources", delay_ms=1500, count=1)
            threading.Timer(0.5, proxy.set_mode, args=("down",)).start()

        def come_back():
            fake.clear()
            proxy.set_mode("up")
        fault_case(p, "killed mid-request", "guests/list", None, die_mid_request, come_back)
        # ... or is back at once (a restart): the read is retried within its deadline.
        fake.fault(kind="slow", match="GET /cluster/resources", delay_ms=1500, count=1)
        threading.Timer(0.5, proxy.kill).start()
        r, dt = timed(p, "guests/list")
        tap.ok("result" in r, "killed mid-request, back at once: the read is retried "
               "transparently (%.2f s)" % dt, r)
        fake.clear()

        fault_case(p, "slow beyond request_timeout", "guests/get", {"id": vm},
                   lambda: fake.fault(kind="hang", match="GET ", delay_ms=15000, count=-1),
                   fake.clear)
        fault_case(p, "silent platform (accepts, never answers)", "guests/list", None,
                   lambda: proxy.set_mode("blackhole"), lambda: proxy.set_mode("up"))
        msg = results[-1][3]
        tap.ok("cannot connect to " in msg and " within " in msg,
               "silent platform: the error names the connect bound that ran out", msg)

        fault_case(p, "5xx storm (reads)", "guests/list", None,
                   lambda: fake.fault(kind="status", status=503,
                                      reason="Service Unavailable", count=-1),
                   fake.clear)
        # A write is never repeated: one POST reaches the platform.
        target = running[0] if running else vm
        fake.admin("POST", "/counters/reset")
        fault_case(p, "5xx storm (writes)", "guests/control", {"id": target, "control": "reset"},
                   lambda: fake.fault(kind="status", match="^POST ", status=503,
                                      reason="Service Unavailable", count=-1),
                   fake.clear)
        counters = fake.admin("GET", "/counters")
        posts = sum(n for k, n in counters.items() if k.startswith("POST ") and "reset" in k)
        tap.ok(posts == 2, "5xx storm (writes): the refused reset was sent once, not retried "
               "(%d resets reached the platform, counting the one after recovery)" % posts)
        # A short storm is ridden out by the retries of reads.
        fake.fault(kind="status", status=502, reason="Bad Gateway", count=1)
        r, dt = timed(p, "guests/list")
        tap.ok("result" in r, "a single 502 on a read is retried transparently (%.2f s)" % dt, r)
        fake.clear()

        fault_case(p, "credentials refused (401)", "guests/list", None,
                   lambda: fake.fault(kind="status", status=401,
                                      reason="authentication failure", count=-1),
                   fake.clear)
    finally:
        p.proc.stdin.close()
        p.proc.wait(timeout=30)

    # Ticket authentication: an expired ticket is renewed once, without an error.
    p = Provider(args=["--driver", "pve"], log_name="ticket")
    try:
        r = p.connect(ticket)
        tap.ok("result" in r, "connect with a password (ticket authentication)", r)
        p.result("guests/list")
        fake.admin("POST", "/tickets/expire")
        r, dt = timed(p, "guests/list")
        tap.ok("result" in r, "ticket expired: renewed transparently (%.2f s)" % dt, r)
        tap.diag("fault: ticket expired | guests/list | no error (re-login) after %.2f s" % dt)
    finally:
        p.proc.stdin.close()
        p.proc.wait(timeout=30)
    for name in ("stderr", "ticket"):
        path = os.path.join(p.tmp, name + ".log")
    logs = ""
    for root, _, files in os.walk(os.environ.get("PRLKIT_TEST_TMPDIR") or work):
        for fn in files:
            if fn.endswith(".log") and ("stderr" in fn or "ticket" in fn):
                with open(os.path.join(root, fn), errors="replace") as fh:
                    logs += fh.read()
    tap.ok(not any(s in logs for s in secrets), "no secret in any provider log")
    fake.stop()
    print("FAULT-FIGURES " + json.dumps([{"fault": n, "request": m, "seconds": round(d, 2),
                                          "message": msg, "ok": ok}
                                         for n, m, d, msg, ok in results]))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
