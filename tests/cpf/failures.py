#!/usr/bin/env python3
"""Platform failures as RAS sees them, with the sim's failure injection: a task that fails
is {"state":"failed","error":{"code":1,...}} (never "completed", never without error), a
read that fails is -32603 with the platform's message and PRL_RESULT name, and a failed
connect leaves the process answering and reconnectable."""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpfharness import Provider, Tap, find_template, sim_settings, test_tmpdir  # noqa: E402

tap = Tap()
state = test_tmpdir()

# A clone the platform accepts and that fails later: the sim fails it at the end of its
# duration (a full clone: 8 s at speed 1, 2 s here), well after the reply.
p = Provider(["--driver", "sim"])
tap.ok(p.connect(sim_settings(state, speed="0.25",
                              fail="clone:once:PRL_ERR_NOT_ENOUGH_DISK_FREE_SPACE")) ==
       {"result": {}}, "connect with failure injection")
tmpl, _ = find_template(p)
r = p.call("guests/clone", {"id": tmpl, "name": "doomed", "is_link_clone": False})
tap.ok(isinstance(r.get("result", {}).get("task_id"), str), "the failing clone is accepted", r)
t = p.wait_task(r.get("result", {}).get("task_id", "missing"))
res = t.get("result", {})
tap.ok(res.get("state") == "failed" and set(res) == {"state", "error"},
       "tasks/get: failed with an error and nothing else", t)
e = res.get("error", {})
tap.ok(e.get("code") == 1 and e.get("message", "").startswith("prlkit: ") and
       "PRL_ERR_NOT_ENOUGH_DISK_FREE_SPACE" in e.get("message", "") and
       "injected" in e.get("message", ""),
       "failed task: code 1, the platform's message and the PRL_RESULT name", e)
tap.ok(e.get("message", "").count("(PRL_ERR_") == 1, "the PRL_RESULT name appears once", e)
# once: the next clone works
r = p.call("guests/clone", {"id": tmpl, "name": "fine", "is_link_clone": True})
t = p.wait_task(r["result"]["task_id"])
tap.ok(t.get("result", {}).get("state") == "completed", "the next clone completes", t)
clone = t["result"]["output"]["clone_id"]
# A failed task resolves the same from another process.
q = Provider(["--driver", "sim"])
q.connect(sim_settings(state))
t2 = q.call("tasks/get", {"id": r["result"]["task_id"]})
tap.ok(t2 == t, "another process resolves the task the same way", [t, t2])
tap.ok(q.close() == 0, "second provider exits 0")

# Suspend, then stop: a suspended guest is powered off.
tap.ok(p.call("guests/control", {"id": clone, "control": "start"}) == {"result": {}}, "start")
p.wait_state(clone, "powered_on")
tap.ok(p.call("guests/control", {"id": clone, "control": "suspend"}) == {"result": {}},
       "suspend")
g = p.wait_state(clone, "suspended")
tap.ok(g.get("state") == "suspended" and g.get("power_state") == "suspended", "suspended", g)
tap.ok(p.call("guests/control", {"id": clone, "control": "stop"}) == {"result": {}},
       "stop of a suspended guest accepted")
g = p.wait_state(clone, "powered_off")
tap.ok(g.get("state") == "powered_off", "a suspended guest stops", g)
tap.ok(p.call("guests/control", {"id": clone, "control": "delete"}) == {"result": {}},
       "delete")
tap.ok(p.close() == 0, "exit 0")

# Work that fails at once (speed 0), or that the platform refuses, is reported the same way:
# through its task, so the answer never depends on timing.
p = Provider(["--driver", "sim"])
p.connect(sim_settings(state, fail="snapshot-create:once"))
# A name that is in use for the whole test (the template's own), whatever the timing.
name_in_use = p.result("guests/get", {"id": tmpl})["name"]
for what, method, params, reason in (
        ("snapshot create failing at once", "guests/snapshots/create",
         {"id": tmpl, "name": "will-fail"}, "PRL_ERR_OPERATION_FAILED"),
        ("clone to a name in use", "guests/clone", {"id": tmpl, "name": name_in_use},
         "PRL_ERR_VM_ALREADY_REGISTERED_VM_NAME")):
    r = p.call(method, params)
    tid = r.get("result", {}).get("task_id")
    tap.ok(isinstance(tid, str) and "clone_id" not in r["result"], what + ": a task id", r)
    t = p.wait_task(tid or "missing")
    e = t.get("result", {}).get("error", {})
    tap.ok(t.get("result", {}).get("state") == "failed" and e.get("code") == 1 and
           reason in e.get("message", ""), what + ": the task failed, naming the reason", t)
r = p.call("guests/control", {"id": tmpl, "control": "start"})
tap.ok(r.get("error", {}).get("code") == -32603 and
       "PRL_ERR_CANT_TO_START_VM_TEMPLATE" in r["error"]["message"],
       "a control the platform refuses is an error reply (controls have no task)", r)
tap.ok(p.close() == 0, "exit 0")

# Failing reads and controls.
p = Provider(["--driver", "sim"])
p.connect(sim_settings(state, fail="get:once:PRL_ERR_IO_CONNECTION_TIMEOUT,start:once"))
gid = p.result("guests/list")["guests"][1]
r = p.call("guests/get", {"id": gid})
tap.ok(r.get("error", {}).get("code") == -32603 and
       "PRL_ERR_IO_CONNECTION_TIMEOUT" in r["error"]["message"],
       "a failing read is -32603 with the PRL_RESULT name", r)
tap.ok("result" in p.call("guests/get", {"id": gid}), "the next read works")
vm = next(g for g in p.result("guests/list")["guests"]
          if p.result("guests/get", {"id": g})["state"] == "powered_off" and
          not p.result("guests/get", {"id": g})["is_template"])
r = p.call("guests/control", {"id": vm, "control": "start"})
tap.ok(r == {"result": {}} or r.get("error", {}).get("code") == -32603,
       "a start that fails on the platform: accepted, or -32603 if it failed at once", r)
tap.ok(p.close() == 0, "exit 0")

# A failed connect, then a good one, in one process.
p = Provider(["--driver", "sim"])
r = p.connect(sim_settings(state, fail="connect"))
tap.ok(r.get("error", {}).get("code") == -32603 and
       "PRL_ERR_CANT_CONNECT_TO_DISPATCHER" in r["error"]["message"],
       "a connect the platform refuses is -32603", r)
r = p.call("guests/list")
tap.ok(r.get("error", {}).get("code") == -32603 and "not connected" in r["error"]["message"],
       "after a failed connect: not connected", r)
tap.ok(p.connect(sim_settings(state)) == {"result": {}}, "the next connect works")
tap.ok("result" in p.call("guests/list"), "and so does guests/list")
tap.ok(p.close() == 0 and not p.bad_lines and len(p.replies) == p.requests,
       "exit 0, one valid reply per request")

sys.exit(tap.done())
