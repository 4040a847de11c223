#!/usr/bin/env python3
"""prlkit-cpf benchmarks. Prints one JSON line per measurement:
{"name": ..., "n": ..., "median": ..., "p99": ..., "unit": ...}
Never asserts timings. --quick runs small sizes (for make check); --tap wraps the output
in TAP (the JSON lines become comments).

Measurements:
  cpf.cold_start            spawn -> reply to provider/initialize (ms)
  cpf.eof_exit              stdin closed -> process gone, with a clone still running (ms)
  cpf.guests_get.latency    one guests/get round trip at a time (us)
  cpf.guests_get.throughput pipelined guests/get per second per round (req/s; p99 is the
                            rate 99% of rounds reach, i.e. the slow end)
  cpf.poll_cycle.<N>        guests/list + guests/get of every guest, N sim guests (ms)
  cpf.peak_rss.<N>          VmHWM of the provider after the N-guest poll cycles (MB)
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

PROVIDER = None
PROVIDER_ENV = None


def sanitized(path):
    """Sanitizer runtimes must load first; a preload would break them."""
    with open(path, "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__tsan_init" in data


def find_provider():
    """The program to measure, and its environment. In a build tree prlkit-cpf is libtool's
    wrapper script (a shell and a library search per start); the real binary is measured
    instead, with the built library preloaded, which is what an installed prlkit-cpf costs."""
    top = os.environ.get("top_builddir")
    here = os.path.dirname(os.path.abspath(__file__))
    for d in ([top] if top else []) + [os.path.join(here, "..", "..")]:
        real = os.path.join(d, ".libs", "prlkit-cpf")
        lib = os.path.join(d, ".libs", "libprlkit.so.1")
        if os.access(real, os.X_OK) and os.path.exists(lib) and not sanitized(real):
            env = dict(os.environ)
            env["LD_PRELOAD"] = os.path.abspath(lib)
            return os.path.abspath(real), env
        wrapper = os.path.join(d, "prlkit-cpf")
        if os.access(wrapper, os.X_OK):
            return os.path.abspath(wrapper), None
    w = shutil.which("prlkit-cpf")
    if not w:
        sys.exit("cpf-bench: prlkit-cpf not found (set top_builddir or PATH)")
    return w, None


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

    def emit(self, name, values, unit, low_is_worst=False):
        med = percentile(values, 0.5)
        p99 = percentile(values, 0.01 if low_is_worst else 0.99)
        line = json.dumps({"name": name, "n": len(values), "median": round(med, 3),
                           "p99": round(p99, 3), "unit": unit})
        if self.tap:
            self.n += 1
            print("ok %d - %s" % (self.n, name))
            print("# " + line)
        else:
            print(line)
        sys.stdout.flush()

    def fail(self, name, why):
        if self.tap:
            self.n += 1
            print("not ok %d - %s" % (self.n, name))
            print("# " + str(why))
        else:
            print(json.dumps({"name": name, "error": str(why)}))
        sys.stdout.flush()

    def done(self):
        if self.tap:
            print("1..%d" % self.n)


class Proc:
    def __init__(self, args=()):
        self.p = subprocess.Popen([PROVIDER, "--log-level", "warning"] + list(args),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, bufsize=0, env=PROVIDER_ENV)
        self.buf = b""

    def line(self):
        while b"\n" not in self.buf:
            chunk = os.read(self.p.stdout.fileno(), 1 << 20)
            if not chunk:
                raise EOFError("provider closed stdout")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def call(self, method, params=None):
        req = {"method": method}
        if params is not None:
            req["params"] = params
        self.p.stdin.write(json.dumps(req).encode() + b"\n")
        return json.loads(self.line())

    def pipelined(self, lines):
        """Writes every request from a thread while reading the replies; returns them."""
        data = b"".join(lines)
        t = threading.Thread(target=self.p.stdin.write, args=(data,))
        t.start()
        out = [self.line() for _ in lines]
        t.join()
        return out

    def close(self):
        self.p.stdin.close()
        self.p.wait(30)

    def rss_mb(self):
        with open("/proc/%d/status" % self.p.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
        return 0.0


def settings(state, seed=None, speed="0"):
    s = {"driver": "sim", "state_dir": state, "speed": speed}
    if seed:
        s["seed"] = seed
    return s


def bench_cold_start(out, n):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        p = subprocess.Popen([PROVIDER, "--driver", "sim", "--log-level", "warning"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, bufsize=0, env=PROVIDER_ENV)
        p.stdin.write(b'{"method":"provider/initialize"}\n')
        reply = p.stdout.readline()
        times.append((time.perf_counter() - t0) * 1000)
        if b'"capabilities"' not in reply:
            raise RuntimeError("bad initialize reply: %r" % reply)
        p.stdin.close()
        p.wait(30)
    out.emit("cpf.cold_start", times, "ms")


def bench_eof_exit(out, tmp, n):
    times = []
    state = os.path.join(tmp, "eof")
    for i in range(n):
        p = Proc(["--driver", "sim"])
        p.call("provider/connect", {"settings": settings(state, speed="1")})
        ids = p.call("guests/list")["result"]["guests"]
        tmpl = next(g for g in ids
                    if p.call("guests/get", {"id": g})["result"]["is_template"])
        r = p.call("guests/clone", {"id": tmpl, "name": "eof-%d" % i})
        if "result" not in r:
            raise RuntimeError("clone failed: %r" % r)
        t0 = time.perf_counter()
        p.p.stdin.close()
        p.p.wait(30)
        times.append((time.perf_counter() - t0) * 1000)
    out.emit("cpf.eof_exit", times, "ms")


def bench_get(out, tmp, n_latency, rounds, batch):
    state = os.path.join(tmp, "get")
    p = Proc(["--driver", "sim"])
    r = p.call("provider/connect", {"settings": settings(state)})
    if r != {"result": {}}:
        raise RuntimeError("connect: %r" % r)
    ids = p.call("guests/list")["result"]["guests"]
    lat = []
    for i in range(n_latency):
        t0 = time.perf_counter()
        r = p.call("guests/get", {"id": ids[i % len(ids)]})
        lat.append((time.perf_counter() - t0) * 1e6)
    if "result" not in r:
        raise RuntimeError("get: %r" % r)
    out.emit("cpf.guests_get.latency", lat, "us")
    reqs = [json.dumps({"method": "guests/get", "params": {"id": ids[i % len(ids)]}}).encode() +
            b"\n" for i in range(batch)]
    rates = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        replies = p.pipelined(reqs)
        dt = time.perf_counter() - t0
        if not replies[-1].startswith(b'{"result"'):
            raise RuntimeError("get: %r" % replies[-1])
        rates.append(batch / dt)
    out.emit("cpf.guests_get.throughput", rates, "req/s", low_is_worst=True)
    p.close()


def bench_poll(out, tmp, guests, cycles):
    state = os.path.join(tmp, "poll-%d" % guests)
    p = Proc(["--driver", "sim"])
    r = p.call("provider/connect", {"settings": settings(state, seed="empty+%d" % guests)})
    if r != {"result": {}}:
        raise RuntimeError("connect: %r" % r)
    times = []
    for _ in range(cycles):
        t0 = time.perf_counter()
        ids = p.call("guests/list")["result"]["guests"]
        reqs = [json.dumps({"method": "guests/get", "params": {"id": g}}).encode() + b"\n"
                for g in ids]
        replies = p.pipelined(reqs)
        times.append((time.perf_counter() - t0) * 1000)
        if len(ids) < guests or not all(x.startswith(b'{"result"') for x in replies):
            raise RuntimeError("poll cycle: %d ids, bad replies" % len(ids))
    out.emit("cpf.poll_cycle.%d" % guests, times, "ms")
    out.emit("cpf.peak_rss.%d" % guests, [p.rss_mb()], "MB")
    p.close()


def main(argv=None):
    global PROVIDER, PROVIDER_ENV
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (make check)")
    ap.add_argument("--tap", action="store_true", help="TAP output, JSON lines as comments")
    ap.add_argument("--provider", help="path of prlkit-cpf")
    a = ap.parse_args(argv)
    if a.provider:
        PROVIDER, PROVIDER_ENV = a.provider, None
    else:
        PROVIDER, PROVIDER_ENV = find_provider()
    out = Out(a.tap)
    base = os.environ.get("PRLKIT_TEST_TMPDIR")
    tmp = tempfile.mkdtemp(prefix="cpf-bench-", dir=base if base and os.path.isdir(base) else None)
    q = a.quick
    plan = [
        ("cpf.cold_start", lambda: bench_cold_start(out, 5 if q else 50)),
        ("cpf.eof_exit", lambda: bench_eof_exit(out, tmp, 2 if q else 10)),
        ("cpf.guests_get", lambda: bench_get(out, tmp, 200 if q else 5000, 2 if q else 10,
                                             500 if q else 20000)),
        ("cpf.poll_cycle.1000", lambda: bench_poll(out, tmp, 1000, 2 if q else 10)),
    ]
    if not q:
        plan.append(("cpf.poll_cycle.10000", lambda: bench_poll(out, tmp, 10000, 5)))
    for name, fn in plan:
        try:
            fn()
        except Exception as e:  # reported, never a timing assertion
            out.fail(name, e)
    out.done()
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
