"""Helpers for the prlkit-cpf tests: run the provider as a real subprocess over pipes,
speak the line protocol, and print TAP. Python 3 standard library only."""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

# Generous bounds: tests never assert timing, these only keep a broken build from hanging.
REPLY_TIMEOUT = 60.0
EXIT_TIMEOUT = 20.0

SIX_CAPS = {
    "can_suspend_guests": bool,
    "guests_polling_rate": int,
    "tasks_polling_rate": int,
    "tasks_polling_retries": int,
    "template_method": str,
    "can_link_clones": bool,
}
STATE_WORDS = {"powered_off", "powering_off", "powered_on", "powering_on", "suspended",
               "suspending"}
GUEST_KEYS = {"id", "name", "state", "power_state", "ip_addresses", "mac_addresses",
              "is_template", "host_os", "provider", "type"}


def provider_path():
    """The prlkit-cpf built in this tree (top_builddir), else the one on PATH."""
    top = os.environ.get("top_builddir")
    if top:
        for cand in (os.path.join(top, "prlkit-cpf"), os.path.join(top, "src", "cpf", "prlkit-cpf")):
            if os.access(cand, os.X_OK):
                return cand
    found = shutil.which("prlkit-cpf")
    if not found:
        raise RuntimeError("prlkit-cpf not found (set top_builddir)")
    return found


def test_tmpdir():
    base = os.environ.get("PRLKIT_TEST_TMPDIR")
    if base and os.path.isdir(base):
        return tempfile.mkdtemp(prefix="cpf-", dir=base)
    return tempfile.mkdtemp(prefix="prlkit-cpf-test-")


def sim_settings(state_dir, speed="0", **extra):
    s = {"driver": "sim", "state_dir": state_dir, "speed": speed}
    s.update(extra)
    return s


class Tap:
    """Minimal TAP producer; the plan is printed at the end."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, desc, diag=None):
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, desc))
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, desc))
            if diag is not None:
                for line in str(diag).splitlines() or [""]:
                    print("# " + line)
        sys.stdout.flush()
        return cond

    def skip(self, desc, reason):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, desc, reason))
        sys.stdout.flush()

    def diag(self, text):
        for line in str(text).splitlines():
            print("# " + line)
        sys.stdout.flush()

    def done(self):
        print("1..%d" % self.n)
        sys.stdout.flush()
        return 1 if self.failed else 0


def valid_envelope(reply):
    """None if reply is a well-formed CPF reply envelope, else what is wrong."""
    if not isinstance(reply, dict):
        return "not an object"
    if set(reply) == {"result"}:
        return None
    if set(reply) == {"error"}:
        e = reply["error"]
        if not isinstance(e, dict) or set(e) != {"code", "message"}:
            return "error must hold exactly code and message"
        if not isinstance(e["code"], int) or isinstance(e["code"], bool):
            return "error.code must be an integer"
        if not isinstance(e["message"], str) or not e["message"].startswith("prlkit: "):
            return "error.message must start with 'prlkit: '"
        if "\n" in e["message"]:
            return "error.message must be one line"
        return None
    return "members must be exactly result or error: %r" % sorted(reply)


class Provider:
    """One prlkit-cpf process. Every reply line is checked to be a valid envelope."""

    def __init__(self, args=(), env=None, log_name="stderr"):
        self.tmp = test_tmpdir()
        self.stderr_path = os.path.join(self.tmp, log_name + ".log")
        self._stderr = open(self.stderr_path, "wb")
        e = dict(os.environ)
        if env:
            e.update(env)
        self.proc = subprocess.Popen([provider_path()] + list(args), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._stderr, env=e)
        self._buf = b""
        self.requests = 0
        self.replies = []
        self.bad_lines = []

    # -- raw I/O --
    def send_raw(self, data):
        """Writes bytes as they are (one or more lines)."""
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def read_line(self, timeout=REPLY_TIMEOUT):
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply from prlkit-cpf within %.0f s" % timeout)
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError("prlkit-cpf closed stdout")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    def read_reply(self, timeout=REPLY_TIMEOUT):
        line = self.read_line(timeout)
        try:
            reply = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self.bad_lines.append(line)
            raise
        why = valid_envelope(reply)
        if why:
            self.bad_lines.append(line)
        self.replies.append(reply)
        return reply

    def raw_request(self, data, timeout=REPLY_TIMEOUT):
        """Sends one raw line (newline appended unless present) and returns the reply."""
        if not data.endswith(b"\n"):
            data += b"\n"
        self.requests += 1
        self.send_raw(data)
        return self.read_reply(timeout)

    def call(self, method, params=None, **extra):
        req = {"method": method}
        if params is not None:
            req["params"] = params
        req.update(extra)
        return self.raw_request(json.dumps(req).encode())

    # -- helpers --
    def result(self, method, params=None):
        r = self.call(method, params)
        if "result" not in r:
            raise AssertionError("%s failed: %r" % (method, r))
        return r["result"]

    def connect(self, settings):
        return self.call("provider/connect", {"settings": settings})

    def wait_task(self, task_id, timeout=60.0, sleep=0.02):
        deadline = time.monotonic() + timeout
        while True:
            r = self.call("tasks/get", {"id": task_id})
            if "result" not in r or r["result"].get("state") != "running":
                return r
            if time.monotonic() > deadline:
                return r
            time.sleep(sleep)

    def wait_state(self, guest_id, state, timeout=60.0, sleep=0.02):
        deadline = time.monotonic() + timeout
        while True:
            r = self.call("guests/get", {"id": guest_id})
            if "result" in r and r["result"]["state"] == state:
                return r["result"]
            if time.monotonic() > deadline:
                return r.get("result", r)
            time.sleep(sleep)

    def close(self, timeout=EXIT_TIMEOUT):
        """Closes stdin and returns the exit status (None if it did not exit)."""
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        # Anything left on stdout after the last reply is a protocol violation.
        rest = self._buf + self.proc.stdout.read()
        self.proc.stdout.close()
        self._stderr.close()
        self.trailing = rest
        return rc

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._stderr.close()

    def stderr_text(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


def find_template(p):
    """(id, guest) of the first template of the inventory."""
    for gid in p.result("guests/list")["guests"]:
        g = p.result("guests/get", {"id": gid})
        if g["is_template"]:
            return gid, g
    return None, None


def guest_problems(g):
    """What is wrong with a guest object (CPF.md §5); [] if nothing."""
    bad = []
    if not isinstance(g, dict):
        return ["not an object"]
    if set(g) != GUEST_KEYS:
        bad.append("keys %r" % sorted(g))
    for k in ("id", "name", "state", "power_state", "host_os", "provider", "type"):
        if not isinstance(g.get(k), str):
            bad.append("%s not a string" % k)
    if g.get("state") not in STATE_WORDS:
        bad.append("state %r" % g.get("state"))
    if not isinstance(g.get("is_template"), bool):
        bad.append("is_template not a bool")
    if g.get("type") != "Virtual Machine":
        bad.append("type %r" % g.get("type"))
    for k in ("ip_addresses", "mac_addresses"):
        v = g.get(k)
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            bad.append("%s not a list of strings" % k)
    macs = g.get("mac_addresses") or []
    for m in macs:
        if m != m.upper() or len(m.split(":")) != 6:
            bad.append("mac %r" % m)
    ips = g.get("ip_addresses") or []
    seen6 = False
    for ip in ips:
        if ":" in ip:
            seen6 = True
        elif seen6:
            bad.append("IPv4 after IPv6: %r" % ips)
        if ip.startswith("127.") or ip == "::1" or ip.startswith("169.254.") or \
                ip.lower().startswith("fe80:"):
            bad.append("loopback/link-local %r" % ip)
    return bad
