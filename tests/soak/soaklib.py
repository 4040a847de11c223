"""Load, soak and crash tests of prlkit-cpf on the sim driver (doc/reliability.md):

  polling   one provider, N sim guests, M polling requests in rounds as RAS polls (a
            guests/list, then a guests/get of every guest), pipelined as fast as it
            answers; RSS sampled from /proc: after warm-up (the first round, at least 10 %
            of the requests) it must stay flat (growth < 5 %)
  parallel  P providers run RAS workflows (clone, start, snapshot, convert, delete) at the
            same time on one sim state; afterwards every VM that must exist does, exactly
            once, with its name, and every VM reads back whole
  sigkill   a provider does state-changing work while it is SIGKILLed at random moments, K
            times; each restart must load the state (the sim validates it), see every VM
            whose clone had been reported complete, and find no torn file

Python 3 standard library only; speaks to prlkit-cpf through tests/cpf/cpfharness.py.
tests/soak/quick.py (make check) and tests/soak/full.py (.ci/run) pick the sizes."""

import json
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests", "cpf"))
import cpfharness  # noqa: E402  (path set above)
from cpfharness import Provider, Tap  # noqa: E402

TEMPLATE = "5efc9fc5-3fd4-5db0-ad1c-922b9b86deeb"   # win11-gold of the seeded inventory
SNAP = "RAS_TEMPLATE_VERSION_1"


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def sanitized(pid):
    """The sanitizer runtime a process runs under ('' if none): its memory is no measure."""
    try:
        with open("/proc/%d/maps" % pid) as f:
            maps = f.read()
    except OSError:
        return ""
    for name in ("libasan", "libtsan", "libubsan", "vgpreload_memcheck"):
        if name in maps:
            return name
    return ""


def settings(state_dir, **extra):
    s = {"driver": "sim", "state_dir": state_dir, "speed": "0"}
    s.update(extra)
    return s


def ok_result(reply):
    return isinstance(reply, dict) and "result" in reply


# ---------------------------------------------------------------- polling

def polling(tap, state_dir, guests, requests, chunk=1000):
    """One provider answers `requests` polling requests on `guests` seeded guests."""
    p = Provider()
    try:
        r = p.connect(settings(state_dir, seed="empty+%d" % guests))
        if not tap.ok(ok_result(r), "polling: connect to %d sim guests" % guests, r):
            return
        lst = p.call("guests/list")
        ids = lst.get("result", {}).get("guests", []) if ok_result(lst) else []
        if not tap.ok(len(ids) == guests, "polling: guests/list shows %d guests" % guests,
                      "got %d" % len(ids)):
            return
        # As RAS polls: a round is a guests/list, then a guests/get of every guest.
        rnd = random.Random(7)
        lines = []
        while len(lines) < requests:
            lines.append(b'{"method":"guests/list"}')
            order = list(ids)
            rnd.shuffle(order)
            lines.extend(json.dumps({"method": "guests/get", "params": {"id": i}}).encode()
                         for i in order)
        lines = lines[:requests]
        # Warm-up: the first round (every guest seen once), at least 10 % of the requests.
        warm = max(requests // 10, guests + 1, chunk)
        samples = []          # (requests done, rss kB)
        bad = 0
        t0 = time.monotonic()
        done = 0
        # A writer thread keeps the pipe full; this thread reads the replies in order.
        def writer():
            for k in range(0, len(lines), chunk):
                p.send_raw(b"\n".join(lines[k:k + chunk]) + b"\n")
        w = threading.Thread(target=writer, daemon=True)
        w.start()
        while done < requests:
            line = p.read_line()
            done += 1
            if not line.startswith(b'{"result":'):
                bad += 1
                if bad <= 3:
                    tap.diag("bad reply %d: %r" % (done, line[:200]))
            if done % chunk == 0:
                samples.append((done, rss_kb(p.proc.pid)))
        elapsed = time.monotonic() - t0
        w.join()
        tap.ok(bad == 0, "polling: %d requests answered, none failed" % requests,
               "%d failed" % bad)
        base = [kb for n, kb in samples if n >= warm][:1]
        after = [kb for n, kb in samples if n >= warm]
        base_kb = base[0] if base else samples[-1][1]
        peak = max(after) if after else base_kb
        final = samples[-1][1]
        growth = 100.0 * (final - base_kb) / base_kb if base_kb else 0.0
        tap.diag("polling: %d guests, %d requests in %.2f s (%.0f/s); RSS after warm-up "
                 "%d kB, final %d kB, peak %d kB, growth %.2f %%" %
                 (guests, requests, elapsed, requests / elapsed, base_kb, final, peak, growth))
        print("SOAK-FIGURES polling guests=%d requests=%d seconds=%.2f rate=%.0f "
              "rss_warm_kb=%d rss_final_kb=%d rss_peak_kb=%d growth_pct=%.2f" %
              (guests, requests, elapsed, requests / elapsed, base_kb, final, peak, growth))
        step = max(len(samples) // 10, 1)
        tap.diag("polling: RSS kB by requests answered: " +
                 ", ".join("%d: %d" % smp for smp in samples[::step]))
        runtime = sanitized(p.proc.pid)
        if runtime:
            tap.skip("polling: RSS flat after warm-up", "the provider runs under %s" % runtime)
        else:
            tap.ok(growth < 5.0, "polling: RSS flat after warm-up (growth %.2f %% < 5 %%)" %
                   growth)
    finally:
        p.proc.stdin.close()
        p.proc.wait(timeout=30)


# ---------------------------------------------------------------- parallel workflows

class Worker(threading.Thread):
    """One provider process running `rounds` RAS workflows on the shared state."""

    def __init__(self, index, state_dir, rounds):
        super().__init__(daemon=True)
        self.index = index
        self.state_dir = state_dir
        self.rounds = rounds
        self.kept = {}          # clone id → name
        self.deleted = set()
        self.errors = []

    def fail(self, what, reply):
        self.errors.append("worker %d: %s: %r" % (self.index, what, reply))

    def wait_task(self, p, task_id):
        r = p.wait_task(task_id, timeout=120)
        if not ok_result(r) or r["result"].get("state") != "completed":
            return None
        return r["result"]

    def run(self):
        p = Provider(log_name="worker-%d" % self.index)
        try:
            if not ok_result(p.connect(settings(self.state_dir))):
                self.fail("connect", p.replies[-1])
                return
            for k in range(self.rounds):
                name = "soak-w%d-r%d" % (self.index, k)
                # Create host: clone from the template's version snapshot, start it.
                r = p.call("guests/clone", {"id": TEMPLATE, "name": name, "snapshot": SNAP})
                if not ok_result(r):
                    self.fail("clone " + name, r)
                    continue
                done = self.wait_task(p, r["result"]["task_id"])
                clone = (done or {}).get("output", {}).get("clone_id")
                if not clone:
                    self.fail("clone task " + name, p.replies[-1])
                    continue
                self.kept[clone] = name
                for req, params in (("guests/control", {"id": clone, "control": "start"}),
                                    ("guests/get", {"id": clone}),
                                    ("guests/control", {"id": clone, "control": "stop"})):
                    r = p.call(req, params)
                    if not ok_result(r):
                        self.fail(req + " " + name, r)
                # Template workflow on the clone: snapshot, convert and back.
                r = p.call("guests/snapshots/create", {"id": clone, "name": "v1"})
                if not ok_result(r) or not self.wait_task(p, r["result"]["task_id"]):
                    self.fail("snapshot " + name, p.replies[-1])
                r = p.call("guests/snapshots/exists", {"id": clone, "name": "v1"})
                if r.get("result") is not True:
                    self.fail("snapshot exists " + name, r)
                for flag in (True, False):
                    r = p.call("guests/convert", {"id": clone, "is_template": flag})
                    if not ok_result(r) or not self.wait_task(p, r["result"]["task_id"]):
                        self.fail("convert %s %s" % (flag, name), p.replies[-1])
                # Every other clone goes away again.
                if k % 2 == 1:
                    r = p.call("guests/control", {"id": clone, "control": "delete"})
                    if ok_result(r):
                        self.deleted.add(clone)
                        del self.kept[clone]
                    else:
                        self.fail("delete " + name, r)
        except Exception as e:   # a hung or dead provider
            self.errors.append("worker %d: %s: %s" % (self.index, type(e).__name__, e))
        finally:
            p.proc.stdin.close()
            p.proc.wait(timeout=30)


def inventory(state_dir):
    """{id: guest object} as a fresh provider sees the state, or (None, why)."""
    p = Provider(log_name="inventory")
    try:
        if not ok_result(p.connect(settings(state_dir))):
            return None, "connect: %r" % p.replies[-1]
        lst = p.call("guests/list")
        if not ok_result(lst):
            return None, "list: %r" % lst
        ids = lst["result"]["guests"]
        if len(ids) != len(set(ids)):
            return None, "guests/list repeats ids"
        out = {}
        for i in ids:
            g = p.call("guests/get", {"id": i})
            if not ok_result(g):
                return None, "get %s: %r" % (i, g)
            out[i] = g["result"]
        return out, None
    finally:
        p.proc.stdin.close()
        p.proc.wait(timeout=30)


def parallel(tap, state_dir, procs, rounds):
    before, why = inventory(state_dir)
    if not tap.ok(before is not None, "parallel: initial inventory", why):
        return
    workers = [Worker(i, state_dir, rounds) for i in range(procs)]
    t0 = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=900)
    elapsed = time.monotonic() - t0
    errors = [e for w in workers for e in w.errors]
    tap.ok(not errors and not any(w.is_alive() for w in workers),
           "parallel: %d providers x %d workflows, every request answered as expected" %
           (procs, rounds), "\n".join(errors[:10]))
    after, why = inventory(state_dir)
    if not tap.ok(after is not None, "parallel: the state reads back whole", why):
        return
    kept = {i: n for w in workers for i, n in w.kept.items()}
    deleted = set().union(*(w.deleted for w in workers))
    lost = [i for i in list(before) + list(kept) if i not in after]
    tap.ok(not lost, "parallel: no VM lost (%d seeded, %d clones kept)" %
           (len(before), len(kept)), "lost: %r" % lost[:10])
    tap.ok(not (deleted & set(after)), "parallel: deleted clones are gone",
           "still there: %r" % sorted(deleted & set(after))[:10])
    wrong = [i for i, n in kept.items() if i in after and after[i]["name"] != n]
    extra = set(after) - set(before) - set(kept)
    tap.ok(not wrong and not extra and len(after) == len(before) + len(kept),
           "parallel: no VM duplicated or renamed (%d VMs)" % len(after),
           "wrong names: %r, unexpected: %r" % (wrong[:5], sorted(extra)[:5]))
    tap.diag("parallel: %d providers x %d workflows in %.1f s; %d clones kept, %d deleted" %
             (procs, rounds, elapsed, len(kept), len(deleted)))
    print("SOAK-FIGURES parallel providers=%d rounds=%d seconds=%.1f kept=%d deleted=%d "
          "vms=%d" % (procs, rounds, elapsed, len(kept), len(deleted), len(after)))


# ---------------------------------------------------------------- SIGKILL

def state_files(state_dir):
    return sorted(os.listdir(state_dir)) if os.path.isdir(state_dir) else []


def sigkill(tap, state_dir, kills, extra_guests):
    """Kill a writing provider at random moments; every restart must find a good state."""
    rnd = random.Random(11)
    acknowledged = {}       # clone id → name: reported completed before a kill
    bad = []
    mid_write = 0           # kills that left a half-written temporary file behind
    first = Provider(log_name="sigkill-seed")
    first.connect(settings(state_dir, seed="default+%d" % extra_guests))
    first.proc.stdin.close()
    first.proc.wait(timeout=60)
    for k in range(kills):
        p = Provider(log_name="sigkill-%d" % k)
        r = p.connect(settings(state_dir))
        if not ok_result(r):
            bad.append("restart %d: connect failed: %r" % (k, r))
            p.proc.kill()
            p.proc.wait()
            break
        # The acknowledged clones are all there.
        lst = p.call("guests/list")
        ids = set(lst["result"]["guests"]) if ok_result(lst) else set()
        missing = [i for i in acknowledged if i not in ids]
        if not ok_result(lst) or missing:
            bad.append("restart %d: list %r, missing %r" % (k, lst if not ok_result(lst) else
                                                            "ok", missing[:5]))
        # Then writes, pipelined so a write is in flight when the kill lands: clones
        # (reported complete are remembered), snapshots and conversions.
        name = "kill-%d" % k
        r = p.call("guests/clone", {"id": TEMPLATE, "name": name})
        if ok_result(r):
            t = p.wait_task(r["result"]["task_id"])
            clone = t.get("result", {}).get("output", {}).get("clone_id") if ok_result(t) else None
            if clone:
                acknowledged[clone] = name
        burst = []
        for j in range(40):
            burst.append(json.dumps({"method": "guests/snapshots/create",
                                     "params": {"id": TEMPLATE, "name": "s%d" % (j % 5)}}))
            burst.append(json.dumps({"method": "guests/clone",
                                     "params": {"id": TEMPLATE, "name": "%s-%d" % (name, j)}}))
        tmp = os.path.join(state_dir, "state.json.tmp")
        p.send_raw(("\n".join(burst) + "\n").encode())
        if k % 2 == 0:
            # At a random moment.
            time.sleep(rnd.uniform(0.0, 0.25))
        else:
            # While a write is under way: the writer's temporary file exists from its
            # creation to the rename over state.json.
            deadline = time.monotonic() + 5
            while not os.path.exists(tmp) and time.monotonic() < deadline:
                pass
        p.proc.send_signal(signal.SIGKILL)
        p.proc.wait()
        if os.path.exists(tmp):
            mid_write += 1
    # Final check: a new provider reads every VM.
    inv, why = inventory(state_dir)
    if inv is None:
        bad.append("final inventory: %s" % why)
    else:
        missing = [i for i in acknowledged if i not in inv]
        if missing:
            bad.append("final: acknowledged clones missing: %r" % missing[:5])
    with open(os.path.join(state_dir, "state.json"), "rb") as f:
        try:
            json.loads(f.read().decode("utf-8"))
        except ValueError as e:
            bad.append("state.json is not JSON: %s" % e)
    tap.ok(not bad, "sigkill: %d SIGKILLs during writes (%d caught a write half done); every "
           "restart loads a whole state with every acknowledged VM (%d)" %
           (kills, mid_write, len(acknowledged)), "\n".join(bad[:10]))
    print("SOAK-FIGURES sigkill kills=%d mid_write=%d acknowledged=%d vms=%d" %
          (kills, mid_write, len(acknowledged), len(inv) if inv else -1))


def main(guests, requests, procs, rounds, kills, kill_guests):
    tap = Tap()
    base = cpfharness.test_tmpdir()
    polling(tap, os.path.join(base, "polling"), guests, requests)
    parallel(tap, os.path.join(base, "parallel"), procs, rounds)
    sigkill(tap, os.path.join(base, "sigkill"), kills, kill_guests)
    return tap.done()
