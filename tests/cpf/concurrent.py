#!/usr/bin/env python3
"""Two prlkit-cpf processes at once on one sim state, each running RAS's Create host
(clone from the template, poll the task, start, poll powered_on, stop, delete), several
times; and each resolves the other's task ids."""

import os
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpfharness import Provider, Tap, find_template, sim_settings, test_tmpdir  # noqa: E402

ROUNDS = 3
tap = Tap()
state = test_tmpdir()

setup = Provider(["--driver", "sim"])
setup.connect(sim_settings(state))
tmpl, tg = find_template(setup)
setup.close()
tap.ok(tmpl is not None, "inventory has a template")

results = {}


def create_host(p, name):
    """One Create host; returns (clone_id, task_id) or raises with what went wrong."""
    r = p.call("guests/clone", {"id": tmpl, "name": name, "snapshot": ""})
    if "result" not in r:
        raise AssertionError("clone: %r" % r)
    task_id, clone_id = r["result"]["task_id"], r["result"].get("clone_id")
    t = p.wait_task(task_id)
    if t.get("result", {}).get("state") != "completed":
        raise AssertionError("clone task: %r" % t)
    if t["result"]["output"].get("clone_id") != clone_id:
        raise AssertionError("clone_id %r vs output %r" % (clone_id, t))
    r = p.call("guests/control", {"id": clone_id, "control": "start"})
    if r != {"result": {}}:
        raise AssertionError("start: %r" % r)
    g = p.wait_state(clone_id, "powered_on")
    if g.get("state") != "powered_on":
        raise AssertionError("never powered_on: %r" % g)
    return clone_id, task_id


def worker(tag):
    p = Provider(["--driver", "sim"])
    out = {"clones": [], "tasks": [], "errors": [], "provider": p}
    try:
        if p.connect(sim_settings(state)) != {"result": {}}:
            raise AssertionError("connect failed")
        for i in range(ROUNDS):
            cid, tid = create_host(p, "host-%s-%d" % (tag, i))
            out["clones"].append(cid)
            out["tasks"].append(tid)
    except Exception as e:  # reported as a test failure below
        out["errors"].append(repr(e))
    results[tag] = out


threads = [threading.Thread(target=worker, args=(t,)) for t in ("a", "b")]
for t in threads:
    t.start()
for t in threads:
    t.join()

for tag in ("a", "b"):
    tap.ok(not results[tag]["errors"], "provider %s ran Create host %d times" % (tag, ROUNDS),
           results[tag]["errors"])
all_clones = results["a"]["clones"] + results["b"]["clones"]
tap.ok(len(set(all_clones)) == 2 * ROUNDS, "every clone has its own id", all_clones)

a, b = results["a"]["provider"], results["b"]["provider"]
listed = set(a.result("guests/list")["guests"])
tap.ok(set(all_clones) <= listed, "provider a sees every clone, also b's")
for tid in results["b"]["tasks"]:
    r = a.call("tasks/get", {"id": tid})
    tap.ok(r.get("result", {}).get("state") == "completed", "a resolves b's task", r)

# Tear down concurrently: each provider stops and deletes the other's clones.
def teardown(p, clones, errors):
    for cid in clones:
        r = p.call("guests/control", {"id": cid, "control": "stop"})
        if r != {"result": {}}:
            errors.append("stop %s: %r" % (cid, r))
            continue
        g = p.wait_state(cid, "powered_off")
        r = p.call("guests/control", {"id": cid, "control": "delete"})
        if r != {"result": {}}:
            errors.append("delete %s: %r" % (cid, r))


errs_a, errs_b = [], []
ta = threading.Thread(target=teardown, args=(a, results["b"]["clones"], errs_a))
tb = threading.Thread(target=teardown, args=(b, results["a"]["clones"], errs_b))
ta.start(), tb.start(), ta.join(), tb.join()
tap.ok(not errs_a and not errs_b, "stop and delete across providers", errs_a + errs_b)
import time  # noqa: E402
left = set(all_clones)
for _ in range(500):
    left = set(all_clones) & set(a.result("guests/list")["guests"])
    if not left:
        break
    time.sleep(0.02)
tap.ok(not left, "every clone is gone after delete", left)
for tag, p in (("a", a), ("b", b)):
    rc = p.close()
    tap.ok(rc == 0 and not p.bad_lines and len(p.replies) == p.requests,
           "provider %s: exit 0, one valid reply per request" % tag, rc)

sys.exit(tap.done())
