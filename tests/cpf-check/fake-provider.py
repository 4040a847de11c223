#!/usr/bin/env python3
"""A small in-memory CPF provider for testing prlkit-cpf-check.

It implements CPF.md well enough to pass every workflow, keeps its platform in a JSON state
file (locked, so several processes can share it, as RAS may run several), and can be told
to break one rule with --fault so that the checker's failing test can be asserted.
Transitional power states and running tasks last one poll, so the checker must poll.
"""

import argparse
import fcntl
import json
import os
import subprocess
import sys
import time

FAULTS = (
    "junk-stdout",             # a banner line on stdout before the connect reply
    "bad-capabilities",        # polling rate and retries out of range
    "lowercase-mac",           # guest MACs in lower case
    "no-output",               # completed tasks without "output"
    "no-clone-id",             # clone output without clone_id (and none in the reply)
    "no-exit",                 # ignores EOF on stdin
    "hang",                    # never answers tasks/get of an unknown task
    "pretty-json",             # the initialize reply spread over several lines
    "bom",                     # a UTF-8 BOM before the initialize reply
    "garbage-task-completed",  # unknown task ids are "completed"
    "crash-on-unknown",        # exits on an unknown method
    "secret-echo",             # the connect reply repeats the password
    "delete-noop",             # control delete accepted but nothing is deleted
    "stuck-task",              # tasks never leave "running"
    "double-reply",            # the connect reply is written twice
    "leave-child",             # starts a child that keeps stdout open after the fake exits
)

LEVELS = {
    "none": ("none", False),
    "full": ("basic", False),
    "link": ("basic", True),
    "versions": ("versioning", True),
}


class Error(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def initial_state(level, stopped_vm):
    template_snapshots = {
        "versions": ["RAS_TEMPLATE_VERSION_1"],
        "link": ["RAS Template Snapshot"],
    }.get(level, [])
    guests = {
        "101": guest("101", "gold-template", "powered_off", True, template_snapshots),
        "103": guest("103", "vm-running", "powered_on", False, []),
    }
    if stopped_vm:
        guests["102"] = guest("102", "vm-stopped", "powered_off", False, [])
    return {"guests": guests, "next_id": 200, "next_task": 1, "tasks": {}}


def guest(gid, name, state, is_template, snapshots):
    n = int(gid)
    return {
        "id": gid, "name": name, "state": state, "pending": None,
        "is_template": is_template, "snapshots": list(snapshots),
        "ip": "10.0.%d.%d" % (n // 250, n % 250 + 1),
        "mac": "BC:24:11:%02X:%02X:%02X" % (n >> 16 & 255, n >> 8 & 255, n & 255),
    }


class Provider:
    def __init__(self, args):
        self.args = args
        self.fault = args.fault
        self.connected = False
        self.settings = {}
        self.state = None

    # ---- state file (the "platform") ----
    def load(self):
        self.lock = open(self.args.state + ".lock", "a")
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        try:
            with open(self.args.state) as f:
                self.state = json.load(f)
        except FileNotFoundError:
            self.state = initial_state(self.args.level, not self.args.no_stopped_vm)

    def save(self):
        tmp = self.args.state + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.state, f, indent=1, sort_keys=True)
        os.replace(tmp, self.args.state)
        fcntl.flock(self.lock, fcntl.LOCK_UN)
        self.lock.close()

    # ---- helpers ----
    def find(self, params):
        gid = params.get("id")
        if isinstance(gid, list) and len(gid) == 1:
            gid = gid[0]
        if not isinstance(gid, str) or not gid:
            raise Error(-32602, "fake: 'id' must be a string")
        g = self.state["guests"].get(gid)
        if g is None:
            raise Error(-32603, "fake: guest '%s' not found" % gid)
        return g

    def name_param(self, params):
        name = params.get("name")
        if not isinstance(name, str) or not name:
            raise Error(-32602, "fake: 'name' must be a non-empty string")
        return name

    def new_task(self, op, **fields):
        tid = "fake-task-%d" % self.state["next_task"]
        self.state["next_task"] += 1
        self.state["tasks"][tid] = dict(op=op, polls=1, done=False, **fields)
        return tid

    def guest_object(self, g):
        state = g["state"]
        if g["pending"]:
            # Transitional state shown once, then the final one.
            g["state"], g["pending"] = g["pending"], None
        mac = g["mac"].lower() if self.fault == "lowercase-mac" else g["mac"]
        running = state == "powered_on"
        return {
            "id": g["id"], "name": g["name"], "state": state,
            "power_state": "running" if running else "stopped",
            "ip_addresses": [g["ip"]] if running else [],
            "mac_addresses": [mac], "is_template": g["is_template"],
            "host_os": "linux", "provider": "Fake", "type": "Virtual Machine",
        }

    # ---- methods ----
    def initialize(self, params):
        template_method, link = LEVELS[self.args.level]
        caps = {
            "can_suspend_guests": True,
            "guests_polling_rate": 3,
            "tasks_polling_rate": 1,
            "tasks_polling_retries": 5,
            "template_method": template_method,
            "can_link_clones": link,
        }
        if self.fault == "bad-capabilities":
            caps["guests_polling_rate"] = 1
            caps["tasks_polling_retries"] = 500
        return {"version": "1.0.0", "capabilities": caps}

    def connect(self, params):
        settings = params.get("settings")
        if not isinstance(settings, dict):
            raise Error(-32602, "fake: 'settings' must be an object")
        if self.fault == "junk-stdout":
            print("Connecting to the fake platform...", flush=True)
        self.settings = settings
        self.connected = True
        if self.fault == "secret-echo":
            return {"greeting": "connected with %s" % settings.get("password", "")}
        return {}

    def list(self, params):
        return {"guests": sorted(self.state["guests"])}

    def get(self, params):
        return self.guest_object(self.find(params))

    def control(self, params):
        g = self.find(params)
        control = params.get("control")
        if g["is_template"]:
            raise Error(-32603, "fake: guest %s is a template" % g["id"])
        if control == "start":
            if g["state"] != "powered_on":
                g["state"], g["pending"] = "powering_on", "powered_on"
        elif control == "stop":
            if g["state"] != "powered_off":
                g["state"], g["pending"] = "powering_off", "powered_off"
        elif control in ("restart", "reset", "reboot"):
            g["state"], g["pending"] = "powering_on", "powered_on"
        elif control == "suspend":
            g["state"], g["pending"] = "suspending", "suspended"
        elif control == "delete":
            if g["state"] != "powered_off":
                raise Error(-32603, "fake: guest %s is running" % g["id"])
            if self.fault != "delete-noop":
                del self.state["guests"][g["id"]]
        else:
            raise Error(-32602, "fake: unknown control %r" % control)
        return {}

    def convert(self, params):
        g = self.find(params)
        value = params.get("is_template")
        if value in ("true", "false"):
            value = value == "true"
        if not isinstance(value, bool):
            raise Error(-32602, "fake: 'is_template' must be a boolean")
        if value and g["state"] != "powered_off":
            raise Error(-32603, "fake: guest %s must be powered off" % g["id"])
        return {"task_id": self.new_task("convert", id=g["id"], value=value)}

    def clone(self, params):
        g = self.find(params)
        name = self.name_param(params)
        snapshot = params.get("snapshot") or ""
        if not g["is_template"]:
            raise Error(-32603, "fake: guest %s is not a template" % g["id"])
        if snapshot and snapshot not in g["snapshots"]:
            raise Error(-32602, "fake: snapshot %r not found" % snapshot)
        clone_id = str(self.state["next_id"])
        self.state["next_id"] += 1
        tid = self.new_task("clone", id=g["id"], name=name, clone_id=clone_id)
        if self.fault == "no-clone-id":
            return {"task_id": tid}
        return {"task_id": tid, "clone_id": clone_id}

    def snapshot_op(self, op, params):
        g = self.find(params)
        name = self.name_param(params)
        if g["is_template"]:
            raise Error(-32603, "fake: guest %s is a template" % g["id"])
        if op == "revert" and name not in g["snapshots"]:
            raise Error(-32602, "fake: snapshot %r not found" % name)
        return {"task_id": self.new_task(op, id=g["id"], name=name)}

    def exists(self, params):
        g = self.find(params)
        return self.name_param(params) in g["snapshots"]

    def apply(self, task):
        g = self.state["guests"].get(task["id"])
        if g is None:
            return "guest %s is gone" % task["id"]
        op = task["op"]
        if op == "convert":
            g["is_template"] = task["value"]
        elif op == "clone":
            c = guest(task["clone_id"], task["name"], "powered_off", False, [])
            self.state["guests"][c["id"]] = c
        elif op == "create":
            if task["name"] not in g["snapshots"]:
                g["snapshots"].append(task["name"])
        elif op == "delete":
            if task["name"] in g["snapshots"]:
                g["snapshots"].remove(task["name"])
        elif op == "revert":
            g["state"], g["pending"] = "powered_off", None
        return None

    def task_get(self, params):
        tid = params.get("id")
        task = self.state["tasks"].get(tid) if isinstance(tid, str) else None
        if task is None:
            if self.fault == "hang":
                while True:
                    time.sleep(60)
            if self.fault == "garbage-task-completed":
                return {"state": "completed", "output": {}}
            raise Error(-32602, "fake: unknown task id")
        if task["polls"] > 0 or self.fault == "stuck-task":
            task["polls"] -= 1
            return {"state": "running"}
        if not task["done"]:
            task["done"] = True
            task["error"] = self.apply(task)
        if task["error"]:
            return {"state": "failed", "error": {"code": 1, "message": task["error"]}}
        if self.fault == "no-output":
            return {"state": "completed"}
        output = {}
        if task["op"] == "clone" and self.fault != "no-clone-id":
            output["clone_id"] = task["clone_id"]
        return {"state": "completed", "output": output}

    METHODS = {
        "provider/initialize": (initialize, False),
        "provider/connect": (connect, False),
        "guests/list": (list, True),
        "guests/get": (get, True),
        "guests/control": (control, True),
        "guests/convert": (convert, True),
        "guests/clone": (clone, True),
        "guests/snapshots/create": (lambda self, p: self.snapshot_op("create", p), True),
        "guests/snapshots/delete": (lambda self, p: self.snapshot_op("delete", p), True),
        "guests/snapshots/revert": (lambda self, p: self.snapshot_op("revert", p), True),
        "guests/snapshots/exists": (exists, True),
        "tasks/get": (task_get, True),
    }

    def handle(self, line):
        try:
            request = json.loads(line)
        except ValueError:
            raise Error(-32700, "fake: parse error")
        if not isinstance(request, dict):
            raise Error(-32700, "fake: a request is an object")
        method = str(request.get("method", "")).lower()
        params = request.get("params") or {}
        entry = self.METHODS.get(method)
        if entry is None:
            if self.fault == "crash-on-unknown":
                sys.exit(3)
            raise Error(-32601, "fake: unknown method")
        func, needs_connect = entry
        if needs_connect and not self.connected:
            raise Error(-32603, "fake: not connected")
        self.load()
        try:
            return func(self, params)
        finally:
            self.save()

    def reply(self, method_line, message):
        text = json.dumps(message, separators=(",", ":"))
        if "provider/initialize" in method_line and self.fault == "pretty-json":
            text = json.dumps(message, indent=2)
        if "provider/initialize" in method_line and self.fault == "bom":
            text = "\ufeff" + text
        sys.stdout.write(text + "\n")
        if "provider/connect" in method_line and self.fault == "double-reply":
            sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def run(self):
        if self.fault == "leave-child":
            # Inherits stdout; the checker must notice and kill it.
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        for line in sys.stdin:
            try:
                message = {"result": self.handle(line)}
            except Error as e:
                message = {"error": {"code": e.code, "message": e.message}}
            self.reply(line, message)
        if self.fault == "no-exit":
            while True:
                time.sleep(60)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--state", required=True, help="platform state file")
    parser.add_argument("--level", choices=sorted(LEVELS), default="versions")
    parser.add_argument("--fault", choices=FAULTS)
    parser.add_argument("--no-stopped-vm", action="store_true",
                        help="no powered-off VM in the initial inventory")
    args = parser.parse_args()
    sys.stdout.reconfigure(encoding="utf-8", newline="\n")
    Provider(args).run()


if __name__ == "__main__":
    main()
