#!/usr/bin/env python3
"""Restart safety: a clone started by one prlkit-cpf process (killed with SIGKILL while the
clone still runs) is resolved by a new process from its task id, and the clone exists.
Also: EOF ends a provider with status 0 while its work still runs on the platform."""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpfharness import Provider, Tap, find_template, sim_settings, test_tmpdir  # noqa: E402

# Slow enough that a full clone (8 s at speed 1 in the sim) is still running when the first
# process dies, fast enough for make check.
SPEED = os.environ.get("CPF_TEST_SLOW_SPEED", "0.25")

tap = Tap()
state = test_tmpdir()

a = Provider(["--driver", "sim"])
tap.ok(a.connect(sim_settings(state, speed=SPEED)) == {"result": {}}, "first provider connects")
tmpl, _ = find_template(a)
tap.ok(tmpl is not None, "inventory has a template")
r = a.call("guests/clone", {"id": tmpl, "name": "restart-clone", "snapshot": None,
                            "is_link_clone": False})
res = r.get("result", {})
tap.ok(isinstance(res.get("task_id"), str) and isinstance(res.get("clone_id"), str),
       "clone returns task_id and clone_id", r)
task_id, clone_id = res.get("task_id"), res.get("clone_id")
first = a.call("tasks/get", {"id": task_id})
tap.ok(first.get("result", {}).get("state") == "running",
       "the clone is still running when the first provider is killed", first)
a.kill()
tap.ok(a.proc.returncode == -9, "first provider killed with SIGKILL")

b = Provider(["--driver", "sim"])
tap.ok(b.connect(sim_settings(state, speed=SPEED)) == {"result": {}}, "second provider connects")
r = b.wait_task(task_id, timeout=120, sleep=0.1)
tap.ok(r.get("result", {}).get("state") == "completed",
       "the task started by the killed process resolves to completed", r)
tap.ok(r.get("result", {}).get("output", {}).get("clone_id") == clone_id,
       "output.clone_id is the clone_id given at start", r)
guests = b.result("guests/list")["guests"]
tap.ok(clone_id in guests, "the clone exists")
g = b.result("guests/get", {"id": clone_id})
tap.ok(g["name"] == "restart-clone" and not g["is_template"], "the clone looks right", g)

# EOF while work still runs on the platform: exit 0 (tests assert no timing; the bench
# measures how fast).
r = b.call("guests/control", {"id": clone_id, "control": "start"})
tap.ok(r == {"result": {}}, "start of the clone accepted", r)
r = b.call("guests/clone", {"id": tmpl, "name": "eof-clone", "is_link_clone": False})
tap.ok("result" in r, "another clone started", r)
t0 = time.monotonic()
rc = b.close()
tap.ok(rc == 0, "EOF with work in flight: exit status 0", rc)
tap.diag("exit after EOF took %.3f s" % (time.monotonic() - t0))

# A third process resolves the second clone too, once it is done.
c = Provider(["--driver", "sim"])
c.connect(sim_settings(state, speed=SPEED))
r2 = c.wait_task(r["result"]["task_id"], timeout=120, sleep=0.1)
tap.ok(r2.get("result", {}).get("state") == "completed" and
       r2["result"]["output"].get("clone_id") == r["result"].get("clone_id"),
       "a clone of a process that ended at EOF completes", r2)
tap.ok(c.close() == 0, "third provider exits 0")

sys.exit(tap.done())
