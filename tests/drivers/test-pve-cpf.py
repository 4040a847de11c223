#!/usr/bin/env python3
"""The RAS workflows through `prlkit-cpf --driver pve` against the fake Proxmox server, in
both template modes:

- prlkit-cpf-check runs the protocol tests and the Create template, Enter/Exit maintenance
  and Create host workflows, as RAS and the official harness do;
- the fake's own records show what really happened on "Proxmox" (tag vs native templates,
  full vs linked clones, snapshot names, nothing left behind);
- a task id is resolved by another prlkit-cpf process; garbage task ids, LXC guests,
  bad credentials (no secret in any reply or log), and a poll cycle's request count.

Skips when prlkit-cpf or prlkit-cpf-check are not built, or python3/openssl are missing.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("top_srcdir") or os.path.normpath(os.path.join(HERE, "..", ".."))
BUILDDIR = os.environ.get("top_builddir") or os.getcwd()
FAKE = os.path.join(SRCDIR, "tests", "fakes", "pve", "fake-pve.py")


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, detail=None):
        self.n += 1
        if not cond:
            self.failed += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, name), flush=True)
        if detail and not cond:
            for line in str(detail).splitlines()[:60]:
                print("#   " + line, flush=True)
        return cond

    def done(self):
        print("1..%d" % self.n, flush=True)
        return 1 if self.failed else 0


def program(name):
    p = os.path.join(BUILDDIR, name)
    return p if os.access(p, os.X_OK) else None


class Fake:
    def __init__(self, workdir, *args):
        self.dir = tempfile.mkdtemp(prefix="fake-pve.", dir=workdir)
        ready = os.path.join(self.dir, "ready.json")
        self.proc = subprocess.Popen(
            [sys.executable, FAKE, "--ready-file", ready, "--cert-dir", self.dir,
             "--auth-delay-ms", "0", "--task-ms", "10", "--clone-ms", "30",
             "--parent-pid", str(os.getpid())] + list(args),
            stdout=subprocess.DEVNULL)
        for _ in range(2000):
            if os.path.exists(ready):
                break
            if self.proc.poll() is not None:
                raise RuntimeError("fake-pve.py exited during start-up")
            time.sleep(0.01)
        with open(ready) as f:
            self.facts = json.load(f)
        import ssl
        self.ctx = ssl.create_default_context(cafile=self.facts["ca_file"])
        self.ctx.check_hostname = False

    def admin(self, method, path, body=None):
        import urllib.request
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.facts["url"] + "/_fake" + path, data=data, method=method)
        with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
            return json.loads(r.read())["data"]

    def settings(self, **extra):
        f = self.facts
        s = {"driver": "pve", "host": "127.0.0.1:%d" % f["port"],
             "tls_fingerprint": f["fingerprint"], "username": f["user"],
             "token_name": f["token_id"].split("!", 1)[1], "token_secret": f["token_secret"],
             "task_poll_ms": "20"}
        s.update(extra)
        return s

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Provider:
    """One prlkit-cpf process, driven line by line."""

    def __init__(self, cpf, settings_file, stderr_path):
        self.err = open(stderr_path, "a")
        self.proc = subprocess.Popen([cpf, "--driver", "pve", "--settings", settings_file],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, text=True)

    def call(self, method, params=None):
        self.proc.stdin.write(json.dumps({"method": method, "params": params or {}}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("prlkit-cpf closed stdout")
        return json.loads(line)

    def result(self, method, params=None):
        reply = self.call(method, params)
        if "error" in reply:
            raise RuntimeError("%s: %s" % (method, reply["error"]))
        return reply["result"]

    def close(self):
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=30)
        self.err.close()
        return rc


def wait_task(p, task_id, limit=60.0):
    end = time.time() + limit
    while time.time() < end:
        r = p.result("tasks/get", {"id": task_id})
        if r["state"] != "running":
            return r
        time.sleep(0.02)
    raise RuntimeError("task did not finish")


def run_checker(tap, checker, cpf, fake, workdir, mode):
    settings = fake.settings(template_mode=mode)
    sfile = os.path.join(workdir, "settings-%s.json" % mode)
    with open(sfile, "w") as f:
        json.dump(settings, f)
    stderr_log = os.path.join(workdir, "provider-%s.log" % mode)
    cmd = [checker, "--settings", sfile, "--poll-scale", "0", "--settle", "0.01",
           "--reply-timeout", "60", "--provider-stderr", stderr_log]
    if mode == "native":
        # Native Proxmox templates never become VMs again: no maintenance, and the guest
        # made a template stays one (checked below instead of "cleanup").
        for t in ("enter-maintenance", "exit-maintenance-v1", "exit-maintenance-v2", "cleanup"):
            cmd += ["--skip", t]
    cmd += ["--", cpf, "--driver", "pve", "--settings", sfile]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=600)
    out = proc.stdout
    failed = [l for l in out.splitlines() if l.startswith("not ok")]
    passed = [l for l in out.splitlines() if l.startswith("ok") and "# SKIP" not in l]
    tap.ok(proc.returncode == 0 and not failed,
           "%s mode: prlkit-cpf-check passes every test against prlkit-cpf --driver pve" % mode,
           out + proc.stderr)
    for wf in ("create-template", "enter-maintenance", "exit-maintenance", "create-host",
               "cleanup", "no-secrets"):
        if mode == "native" and wf in ("enter-maintenance", "exit-maintenance", "cleanup"):
            continue
        ran = any((" - " + wf) in l for l in passed)
        tap.ok(ran, "%s mode: the %s workflow really ran and passed" % (mode, wf), out)
    with open(stderr_log) as f:
        log = f.read()
    secrets = [settings["token_secret"]]
    tap.ok(not any(s in log for s in secrets) and not any(s in out for s in secrets),
           "%s mode: no secret in the provider's log or the checker's output" % mode)
    return out


def fake_checks_tag(tap, fake):
    vms = {v["vmid"]: v for v in fake.admin("GET", "/vms")}
    templates = [v for v in vms.values()
                 if "prlkit-template" in (v["config"].get("tags") or "")]
    tap.ok(all(v["config"].get("template") in (None, 0) for v in templates),
           "tag mode: templates are tagged VMs, never native Proxmox templates",
           json.dumps(templates, indent=1)[:3000])
    clones = fake.admin("GET", "/clones")
    tap.ok(clones and all(c["full"] for c in clones)
           and all((c["snapname"] or "").startswith("RAS_TEMPLATE_VERSION_") for c in clones),
           "tag mode: Create host made full clones from a version snapshot", clones)
    names = set()
    for v in vms.values():
        names.update(v["snapshots"].keys())
    tap.ok(all(" " not in n for n in names),
           "tag mode: every snapshot name on Proxmox is a valid Proxmox name", sorted(names))


def fake_checks_native(tap, fake, before):
    vms = {v["vmid"]: v for v in fake.admin("GET", "/vms")}
    made = [v for v in vms.values() if v["config"].get("template") == 1 and v["base"]
            and not before[v["vmid"]]["base"]]
    tap.ok(len(made) == 1 and not made[0]["snapshots"],
           "native mode: Create template made a native Proxmox template (base snapshot folded)",
           json.dumps(list(vms.values()), indent=1)[:3000])
    clones = fake.admin("GET", "/clones")
    tap.ok(clones and all(not c["full"] and c["snapname"] is None and c["source"] == made[0]["vmid"]
                          for c in clones),
           "native mode: Create host made linked clones of the template", clones)
    tap.ok(set(vms) == set(before),
           "native mode: the clones Create host made are gone again",
           (sorted(set(vms) - set(before)), sorted(set(before) - set(vms))))


def session_checks(tap, cpf, fake, workdir):
    sfile = os.path.join(workdir, "settings-session.json")
    with open(sfile, "w") as f:
        json.dump(fake.settings(), f)
    log = os.path.join(workdir, "session.log")
    p = Provider(cpf, sfile, log)
    p.result("provider/initialize")
    p.result("provider/connect", {"settings": fake.settings()})
    guests = p.result("guests/list")["guests"]
    tap.ok("200" not in guests and "201" not in guests and "101" in guests,
           "guests/list lists the QEMU VMs and no LXC container", guests)
    g = p.result("guests/get", {"id": "101"})
    tap.ok(g["ip_addresses"] and g["ip_addresses"][0].count(".") == 3
           and g["mac_addresses"][0] == g["mac_addresses"][0].upper()
           and g["state"] == "powered_on" and g["provider"] == "Proxmox VE",
           "guests/get: state, IPv4 first, upper-case MACs", g)
    g103 = p.result("guests/get", {"id": "103"})
    tap.ok(g103["ip_addresses"] == [] and g103["state"] == "powered_on",
           "guests/get of a VM whose guest agent does not answer: no IPs, no error", g103)
    r = p.call("tasks/get", {"id": "pk1.garbage"})
    tap.ok("error" in r and r["error"]["code"] == -32602,
           "tasks/get of a garbage task id is -32602", r)

    # A clone started here, polled by another process.
    started = p.result("guests/clone", {"id": "102", "name": "other-process"})
    q = Provider(cpf, sfile, log)
    q.result("provider/initialize")
    q.result("provider/connect", {"settings": fake.settings()})
    done = wait_task(q, started["task_id"])
    tap.ok(done["state"] == "completed" and done["output"]["clone_id"] == started["clone_id"],
           "a clone's task id is resolved by another prlkit-cpf process", done)
    # Snapshot replace as one task, from yet another view.
    t1 = p.result("guests/snapshots/create", {"id": "102", "name": "RAS Template Snapshot"})
    wait_task(q, t1["task_id"])
    t2 = p.result("guests/snapshots/create", {"id": "102", "name": "RAS Template Snapshot"})
    r2 = wait_task(q, t2["task_id"])
    exists = q.result("guests/snapshots/exists", {"id": "102", "name": "RAS Template Snapshot"})
    cur = q.result("guests/snapshots/exists", {"id": "102", "name": "current"})
    tap.ok(r2["state"] == "completed" and exists is True and cur is False,
           "snapshots/create replaces an existing snapshot; 'current' never exists", (r2, exists, cur))
    d = p.result("guests/snapshots/delete", {"id": "102", "name": "never-there"})
    r3 = wait_task(q, d["task_id"])
    tap.ok(r3["state"] == "completed", "snapshots/delete of a missing snapshot completes", r3)

    # A warm poll cycle costs at most 3 requests.
    p.result("guests/list")
    for gid in guests:
        p.result("guests/get", {"id": gid})
    fake.admin("POST", "/counters/reset")
    for gid in p.result("guests/list")["guests"]:
        p.result("guests/get", {"id": gid})
    total = fake.admin("GET", "/counters").get("_total", 0)
    tap.ok(total <= 3, "a warm RAS poll cycle costs at most 3 requests (%d)" % total)
    tap.ok(p.close() == 0 and q.close() == 0, "both providers exit with status 0")

    # Injected faults: each is a clean error reply within the request timeout (checked with
    # a wide margin: looking for hangs, not speed), and the provider keeps answering.
    f = Provider(cpf, sfile, log)
    f.result("provider/initialize")
    f.result("provider/connect", {"settings": fake.settings(request_timeout="1",
                                                             inventory_cache_ms="0")})
    for rule in ({"kind": "hang", "delay_ms": 5000}, {"kind": "slow", "delay_ms": 5000},
                 {"kind": "drop"}, {"kind": "reset"}, {"kind": "truncate"}, {"kind": "garbage"},
                 {"kind": "status", "status": 500, "reason": "cfs lock timeout"},
                 {"kind": "status", "status": 503, "reason": "Service Unavailable"}):
        fake.admin("POST", "/faults", dict(rule, match=".*", count=-1))
        t0 = time.time()
        r = f.call("guests/list")
        took = time.time() - t0
        fake.admin("DELETE", "/faults")
        after = f.call("guests/list")
        tap.ok("error" in r and r["error"]["code"] == -32603 and took < 30
               and "result" in after,
               "fault %s: guests/list is a clean error (%.1f s), then works again"
               % (rule["kind"], took), (r, after))
    tap.ok(f.close() == 0, "the provider survived every fault and exits with status 0")

    # Bad credentials: a clean error, the secret nowhere.
    bad = fake.settings(token_secret="wrong-secret-value-1234")
    b = Provider(cpf, sfile, log)
    b.result("provider/initialize")
    r = b.call("provider/connect", {"settings": bad})
    b.close()
    msg = json.dumps(r)
    tap.ok("error" in r and "AUTHENTICATION_FAILED" in msg and "wrong-secret-value-1234" not in msg,
           "bad API token: a clean authentication error without the secret", r)
    with open(log) as f:
        text = f.read()
    tap.ok("wrong-secret-value-1234" not in text and fake.facts["token_secret"] not in text,
           "the provider log never contains a secret")


def main():
    tap = Tap()
    checker = program("prlkit-cpf-check")
    cpf = program("prlkit-cpf")
    if not cpf:
        print("1..0 # SKIP prlkit-cpf is not built in %s" % BUILDDIR)
        return 0
    if not shutil.which("openssl"):
        print("1..0 # SKIP openssl is needed for the fake Proxmox server")
        return 0
    base = os.environ.get("PRLKIT_TEST_TMPDIR") or tempfile.gettempdir()
    workdir = tempfile.mkdtemp(prefix="pve-cpf.", dir=base)

    if checker:
        for mode in ("tag", "native"):
            fake = Fake(workdir)
            try:
                before = {v["vmid"]: v for v in fake.admin("GET", "/vms")}
                run_checker(tap, checker, cpf, fake, workdir, mode)
                if mode == "tag":
                    fake_checks_tag(tap, fake)
                else:
                    fake_checks_native(tap, fake, before)
            except Exception as e:  # report, never crash the TAP stream
                tap.ok(False, "%s mode: workflows through prlkit-cpf" % mode, repr(e))
            finally:
                fake.stop()
    else:
        tap.ok(True, "prlkit-cpf-check is not built: workflow runs skipped # SKIP")

    fake = Fake(workdir)
    try:
        session_checks(tap, cpf, fake, workdir)
    except Exception as e:
        tap.ok(False, "prlkit-cpf sessions against the fake", repr(e))
    finally:
        fake.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
