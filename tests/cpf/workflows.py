#!/usr/bin/env python3
"""The RAS workflows of CPF.md §7 against the sim driver at speed 0, as RAS and the official
harness send them: Create template, Enter maintenance (version 1), Exit maintenance, Create
host — for template versioning and for link clones — plus the method details they rely on
(guest object, aliases, controls, idempotent snapshots, task outputs)."""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpfharness import (Provider, Tap, SIX_CAPS, guest_problems, sim_settings,  # noqa: E402
                        test_tmpdir)

tap = Tap()
state = test_tmpdir()
p = Provider(["--driver", "sim", "--log-level", "debug"])


def ok_task(what, r):
    """Polls a task-starting reply to its end; True if it completed with an output."""
    if not tap.ok(isinstance(r.get("result", {}).get("task_id"), str), what + ": task id", r):
        return None
    t = p.wait_task(r["result"]["task_id"])
    res = t.get("result", {})
    tap.ok(res.get("state") == "completed" and isinstance(res.get("output"), dict),
           what + ": task completed with an output", t)
    return res


def control(gid, word):
    r = p.call("guests/control", {"id": gid, "control": word})
    tap.ok(r == {"result": {}}, "control %s -> {}" % word, r)


# ---- initialize + connect ----
init = p.result("provider/initialize")
caps = init["capabilities"]
tap.ok(init["version"] == "1.0.0" and set(caps) == set(SIX_CAPS), "initialize: six capabilities",
       init)
tap.ok(all(isinstance(caps[k], t) for k, t in SIX_CAPS.items()), "capability types", caps)
tap.ok(3 <= caps["guests_polling_rate"] <= 900 and 1 <= caps["tasks_polling_rate"] <= 60 and
       0 <= caps["tasks_polling_retries"] <= 180, "capabilities in range", caps)
tap.ok(caps["template_method"] == "versioning", "sim: template_method versioning", caps)
tap.ok(p.connect(sim_settings(state)) == {"result": {}}, "connect")

# ---- inventory and guest objects ----
guests = p.result("guests/list")["guests"]
tap.ok(p.result("hosts/list")["guests"] == guests, "hosts/list is an alias of guests/list")
objs = {g: p.result("guests/get", {"id": g}) for g in guests}
bad = {g: guest_problems(o) for g, o in objs.items() if guest_problems(o)}
tap.ok(not bad, "every guest object has the CPF.md §5 shape", bad)
tap.ok(all(o["id"] == g for g, o in objs.items()), "guest ids round-trip")
tap.ok(all(o["provider"] == "prlkit simulator" for o in objs.values()),
       "provider is the driver's display name")
tap.ok(p.result("hosts/get", {"id": guests[0]}) == objs[guests[0]], "hosts/get alias")
running = [g for g, o in objs.items() if o["state"] == "powered_on"]
tap.ok(running and all(objs[g]["ip_addresses"] for g in running),
       "running sim guests report IP addresses", running)
tap.ok(all(objs[g]["mac_addresses"] for g in guests), "every sim guest has a MAC")
tmpl = next((g for g, o in objs.items() if o["is_template"]), None)
tap.ok(tmpl is not None, "a template exists")
vm = next((g for g, o in objs.items()
           if not o["is_template"] and o["state"] == "powered_on"), None)
tap.ok(vm is not None, "a running VM exists")

# ---- Create template (versioning) ----
g = p.result("guests/get", {"id": vm})
tap.ok(g["is_template"] is False, "create template: guest is not a template yet")
r = p.call("guests/convert", {"id": vm, "is_template": True})
tap.ok(r.get("error", {}).get("code") == -32603,
       "a running VM asked to become a template is a clean error", r)
control(vm, "stop")
g = p.wait_state(vm, "powered_off")
tap.ok(g.get("state") == "powered_off", "create template: stopped", g)
ok_task("snapshots/create RAS_TEMPLATE_VERSION_1",
        p.call("guests/snapshots/create", {"id": vm, "name": "RAS_TEMPLATE_VERSION_1"}))
ok_task("convert is_template:true", p.call("guests/convert", {"id": vm, "is_template": True}))
g = p.result("guests/get", {"id": vm})
tap.ok(g["is_template"] is True, "create template: get shows is_template true", g)
r = p.call("guests/control", {"id": vm, "control": "start"})
tap.ok(r.get("error", {}).get("code") == -32603, "starting a template is a clean error", r)

# ---- Enter maintenance (version 1) ----
ok_task("convert is_template:false", p.call("guests/convert", {"id": vm, "is_template": False}))
tap.ok(p.result("guests/get", {"id": vm})["is_template"] is False, "maintenance: a VM again")
ok_task("snapshots/revert RAS_TEMPLATE_VERSION_1",
        p.call("guests/snapshots/revert", {"id": vm, "name": "RAS_TEMPLATE_VERSION_1"}))
control(vm, "start")
g = p.wait_state(vm, "powered_on")
tap.ok(g.get("state") == "powered_on", "maintenance: powered on", g)

# ---- Exit maintenance ----
control(vm, "stop")
tap.ok(p.wait_state(vm, "powered_off").get("state") == "powered_off", "exit: stopped")
r = p.call("guests/snapshots/exists", {"id": vm, "name": "RAS_TEMPLATE_VERSION_2"})
tap.ok(r == {"result": False}, "snapshots/exists of a missing one is a bare false", r)
r = p.call("guests/snapshots/exists", {"id": vm, "name": "RAS_TEMPLATE_VERSION_1"})
tap.ok(r == {"result": True}, "snapshots/exists is a bare true", r)
ok_task("snapshots/delete RAS_TEMPLATE_VERSION_1",
        p.call("guests/snapshots/delete", {"id": vm, "name": "RAS_TEMPLATE_VERSION_1"}))
tap.ok(p.call("guests/snapshots/exists", {"id": vm, "name": "RAS_TEMPLATE_VERSION_1"}) ==
       {"result": False}, "deleted snapshot is gone")
ok_task("snapshots/create RAS_TEMPLATE_VERSION_2",
        p.call("guests/snapshots/create", {"id": vm, "name": "RAS_TEMPLATE_VERSION_2"}))
ok_task("snapshots/create again (idempotent replace)",
        p.call("guests/snapshots/create", {"id": vm, "name": "RAS_TEMPLATE_VERSION_2"}))
ok_task("snapshots/delete of a missing snapshot completes",
        p.call("guests/snapshots/delete", {"id": vm, "name": "NEVER_EXISTED"}))
ok_task("convert is_template:true (\"true\" string)",
        p.call("guests/convert", {"id": vm, "is_template": "true"}))
tap.ok(p.result("guests/get", {"id": vm})["is_template"] is True, "exit: template again")

# ---- Create host (versioning) ----
clone_tasks = {}   # clone id -> the task that made it


def create_host(name, snapshot, **extra):
    params = {"id": vm, "name": name}
    if snapshot is not Ellipsis:
        params["snapshot"] = snapshot
    params.update(extra)
    r = p.call("guests/clone", params)
    res = r.get("result", {})
    tap.ok(isinstance(res.get("task_id"), str) and isinstance(res.get("clone_id"), str),
           "clone %s: task_id and clone_id" % name, r)
    out = ok_task("clone %s" % name, r)
    if not out:
        return None
    cid = out["output"].get("clone_id")
    tap.ok(cid == res.get("clone_id"), "clone %s: output.clone_id matches" % name, out)
    clone_tasks[cid] = res.get("task_id")
    c = p.result("guests/get", {"id": cid})
    tap.ok(c["name"] == name and c["is_template"] is False and not guest_problems(c),
           "clone %s: a VM with the asked name" % name, c)
    control(cid, "start")
    c = p.wait_state(cid, "powered_on")
    tap.ok(c.get("state") == "powered_on", "clone %s: powered on" % name, c)
    return cid


h1 = create_host("host-v2", "RAS_TEMPLATE_VERSION_2")
h2 = create_host("host-nosnap-empty", "")
h3 = create_host("host-nosnap-null", None)
h4 = create_host("host-nosnap-missing", Ellipsis)
h5 = create_host("host-full", "RAS_TEMPLATE_VERSION_2", is_link_clone=False)
h6 = create_host("host-full-str", "RAS_TEMPLATE_VERSION_2", is_link_clone="false")

# ---- Link clones flavour: "RAS Template Snapshot" ----
ok_task("convert to VM for link clones", p.call("guests/convert", {"id": vm, "is_template": False}))
ok_task("snapshots/create 'RAS Template Snapshot'",
        p.call("guests/snapshots/create", {"id": vm, "name": "RAS Template Snapshot"}))
ok_task("convert back", p.call("guests/convert", {"id": vm, "is_template": True}))
tap.ok(p.call("guests/snapshots/exists", {"id": vm, "name": "RAS Template Snapshot"}) ==
       {"result": True}, "snapshot name with spaces exists")
h7 = create_host("host-linked", "RAS Template Snapshot")

# ---- controls on a clone ----
cid = h1
if cid:
    control(cid, "reboot")
    tap.ok(p.wait_state(cid, "powered_on").get("state") == "powered_on", "up after reboot")
    control(cid, "restart")
    control(cid, "reset")
    tap.ok(p.wait_state(cid, "powered_on").get("state") == "powered_on", "up after reset")
    control(cid, "start")   # already running: still {}
    if caps["can_suspend_guests"]:
        control(cid, "suspend")
        g = p.wait_state(cid, "suspended")
        tap.ok(g.get("state") == "suspended", "suspended", g)
        control(cid, "start")
        tap.ok(p.wait_state(cid, "powered_on").get("state") == "powered_on", "resumed by start")
    r = p.call("guests/control", {"id": cid, "control": "Stop"})
    tap.ok(r == {"result": {}}, "control word in any case", r)
    p.wait_state(cid, "powered_off")
    control(cid, "stop")    # already stopped: still {}
    control(cid, "delete")
    gone = False
    for _ in range(500):
        if cid not in p.result("guests/list")["guests"]:
            gone = True
            break
    tap.ok(gone, "deleted clone leaves the inventory")
    r = p.call("guests/get", {"id": cid})
    tap.ok(r.get("error", {}).get("code") == -32603 and
           "PRL_ERR_VM_UUID_NOT_FOUND" in r["error"]["message"],
           "get of a deleted guest: -32603 not found", r)
    r = p.call("tasks/get", {"id": clone_tasks[cid]})
    tap.ok(r.get("result", {}).get("state") == "completed" and
           r["result"].get("output", {}).get("clone_id") == cid,
           "the clone's task, asked again after the clone was deleted: still its clone_id", r)

# ---- disconnect ----
tap.ok(p.call("provider/disconnect") == {"result": {}}, "disconnect")
r = p.call("guests/list")
tap.ok(r.get("error", {}).get("code") == -32603, "after disconnect: not connected", r)
tap.ok(p.connect(sim_settings(state)) == {"result": {}}, "reconnect in the same process")
tap.ok(isinstance(p.result("guests/list")["guests"], list), "list after reconnect")
rc = p.close()
tap.ok(rc == 0 and not p.bad_lines and len(p.replies) == p.requests,
       "exit 0, one valid reply per request", rc)
tap.ok(" 0 handles open at exit" in p.stderr_text(), "no prlkit handle left open at exit",
       [line for line in p.stderr_text().splitlines() if "handles open" in line])

sys.exit(tap.done())
