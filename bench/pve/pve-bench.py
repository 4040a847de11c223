#!/usr/bin/env python3
"""Proxmox VE driver benchmarks: what one RAS poll cycle (guests/list, then guests/get for
every guest) costs through `prlkit-cpf --driver pve`, against the fake Proxmox server with
an injected latency on every answer. Prints one JSON line per measurement:
{"name": ..., "n": ..., "median": ..., "p99": ..., "unit": ...}
Never asserts anything about the figures; --quick runs a small size (for make check);
--tap wraps the output in TAP (the JSON lines become comments).

Measurements, for N VMs (half of them running with a guest agent), latency L ms:
  pve.poll_cycle.cold.<N>            wall time of the first cycle of a fresh provider (ms)
  pve.poll_cycle.cold.<N>.requests   HTTP requests the fake saw during it (req)
  pve.poll_cycle.warm.<N>            wall time of a following cycle, nothing changed (ms)
  pve.poll_cycle.warm.<N>.requests   HTTP requests during it (req)
  pve.poll_cycle.cold.<N>.connections  TCP connections opened during a cold cycle (conn)
Targets (doc/drivers/pve.md): warm <= 3 requests whatever N; cold <= 2N + 3 requests and
<= 2 s for N = 1,000 at L = 2 ms.
"""

import argparse
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("top_srcdir") or os.path.normpath(os.path.join(HERE, "..", ".."))
FAKE = os.path.join(SRCDIR, "tests", "fakes", "pve", "fake-pve.py")


def find_provider(builddir):
    """prlkit-cpf to measure and its environment: the real binary with the built library
    preloaded when the build has one (what an installed prlkit-cpf costs), else the
    libtool wrapper."""
    real = os.path.join(builddir, ".libs", "prlkit-cpf")
    lib = os.path.join(builddir, ".libs", "libprlkit.so.1")
    if os.access(real, os.X_OK) and os.path.exists(lib):
        with open(real, "rb") as f:
            data = f.read()
        if b"__asan_init" not in data and b"__tsan_init" not in data:
            env = dict(os.environ)
            env["LD_PRELOAD"] = os.path.abspath(lib)
            return os.path.abspath(real), env
    wrapper = os.path.join(builddir, "prlkit-cpf")
    if os.access(wrapper, os.X_OK):
        return os.path.abspath(wrapper), None
    return None, None


def percentile(values, q):
    v = sorted(values)
    if not v:
        return 0.0
    k = (len(v) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


class Out:
    def __init__(self, tap):
        self.tap = tap
        self.n = 0

    def emit(self, name, values, unit):
        line = json.dumps({"name": name, "n": len(values),
                           "median": round(percentile(values, 0.5), 3),
                           "p99": round(percentile(values, 0.99), 3), "unit": unit})
        if self.tap:
            self.n += 1
            print("ok %d - %s" % (self.n, name))
            print("# " + line, flush=True)
        else:
            print(line, flush=True)

    def fail(self, name, why):
        if self.tap:
            self.n += 1
            print("not ok %d - %s" % (self.n, name))
            print("# " + str(why), flush=True)
        else:
            sys.stderr.write("pve-bench: %s: %s\n" % (name, why))


class Fake:
    def __init__(self, workdir, vms, latency_ms):
        ready = os.path.join(workdir, "ready-%d.json" % vms)
        self.proc = subprocess.Popen(
            [sys.executable, FAKE, "--ready-file", ready, "--cert-dir", workdir,
             "--vms", str(vms), "--nodes", "pve1,pve2", "--latency-ms", str(latency_ms),
             "--auth-delay-ms", "0", "--parent-pid", str(os.getpid())],
            stdout=subprocess.DEVNULL)
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

    def admin(self, method, path):
        req = urllib.request.Request(self.facts["url"] + "/_fake" + path, method=method,
                                     data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, context=self.ctx, timeout=60) as r:
            return json.loads(r.read())["data"]

    def settings(self):
        f = self.facts
        return {"driver": "pve", "host": "127.0.0.1:%d" % f["port"],
                "tls_fingerprint": f["fingerprint"], "username": f["user"],
                "token_name": f["token_id"].split("!", 1)[1], "token_secret": f["token_secret"]}

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Provider:
    def __init__(self, prog, env, settings):
        self.proc = subprocess.Popen([prog, "--driver", "pve", "--log-level", "warning"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, env=env)
        self.result("provider/initialize")
        self.result("provider/connect", {"settings": settings})

    def result(self, method, params=None):
        self.proc.stdin.write(json.dumps({"method": method, "params": params or {}}) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        if "error" in reply:
            raise RuntimeError("%s: %s" % (method, reply["error"]))
        return reply["result"]

    def cycle(self):
        ids = self.result("guests/list")["guests"]
        for gid in ids:
            self.result("guests/get", {"id": gid})
        return len(ids)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def measure(out, prog, env, workdir, n, latency, colds, warms):
    fake = Fake(workdir, n, latency)
    try:
        cold_ms, cold_req, cold_conn, warm_ms, warm_req = [], [], [], [], []
        for _ in range(colds):
            p = Provider(prog, env, fake.settings())
            try:
                fake.admin("POST", "/counters/reset")
                t0 = time.perf_counter()
                seen = p.cycle()
                cold_ms.append((time.perf_counter() - t0) * 1000)
                c = fake.admin("GET", "/counters")
                cold_req.append(c.get("_total", 0))
                cold_conn.append(c.get("_connections", 0))
                if seen != n:
                    raise RuntimeError("listed %d guests, expected %d" % (seen, n))
                for _ in range(warms):
                    fake.admin("POST", "/counters/reset")
                    t0 = time.perf_counter()
                    p.cycle()
                    warm_ms.append((time.perf_counter() - t0) * 1000)
                    warm_req.append(fake.admin("GET", "/counters").get("_total", 0))
            finally:
                p.close()
        out.emit("pve.poll_cycle.cold.%d" % n, cold_ms, "ms")
        out.emit("pve.poll_cycle.cold.%d.requests" % n, cold_req, "req")
        out.emit("pve.poll_cycle.cold.%d.connections" % n, cold_conn, "conn")
        out.emit("pve.poll_cycle.warm.%d" % n, warm_ms, "ms")
        out.emit("pve.poll_cycle.warm.%d.requests" % n, warm_req, "req")
    finally:
        fake.stop()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tap", action="store_true")
    ap.add_argument("--builddir", default=os.environ.get("top_builddir") or ".")
    ap.add_argument("--latency-ms", type=int, default=2)
    args = ap.parse_args(argv)
    out = Out(args.tap)

    prog, env = find_provider(os.path.abspath(args.builddir))
    if prog is None:
        if args.tap:
            print("1..0 # SKIP prlkit-cpf is not built")
        else:
            sys.stderr.write("bench/pve: prlkit-cpf is not built; skipped\n")
        return 0
    sizes = [(20, 1, 2)] if args.quick else [(100, 3, 5), (1000, 3, 5)]
    base = os.environ.get("PRLKIT_TEST_TMPDIR") or tempfile.gettempdir()
    with tempfile.TemporaryDirectory(prefix="pve-bench.", dir=base) as workdir:
        for n, colds, warms in sizes:
            try:
                measure(out, prog, env, workdir, n, args.latency_ms, colds, warms)
            except Exception as e:  # report, keep the stream well-formed
                out.fail("pve.poll_cycle.%d" % n, repr(e))
    if args.tap:
        print("1..%d" % out.n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
