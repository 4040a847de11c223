#!/usr/bin/env python3
"""A fake Proxmox VE API server for prlkit's tests and benchmarks.

It speaks real HTTPS (a CA and a server certificate are generated with the openssl CLI at
start, like a Proxmox node's pve-root-ca.pem / pve-ssl.pem) and follows
doc/backends/proxmox.md: token and ticket auth (CSRF on writes, tickets that expire),
errors in the HTTP reason phrase with a {"data":null} body, 400 answers with an "errors"
object, real UPIDs, asynchronous tasks whose failures show only in exitstatus, WARNINGS,
`current` in snapshot lists, LXC guests in cluster/resources, `lock: clone` during clones,
guest agent absent / not running / running, `digest` checks, keep-alive with the
connection closed after every error answer, gzip for large answers.

Control for tests (plain JSON over the same HTTPS port, no auth, not counted):
  GET  /_fake/counters            requests per endpoint ("GET /nodes/{node}/qemu/{vmid}/config"),
                                  "_total", "_connections", "_tls_resumed" (TLS sessions reused)
  POST /_fake/counters/reset
  POST /_fake/settings            {"latency_ms":2,"auth_delay_ms":0,"task_ms":30,...}
  POST /_fake/faults              a rule or a list of rules (see Fault); DELETE clears them
  GET  /_fake/vms                 every guest; GET /_fake/vms/<id> one
  POST /_fake/vms                 create {"vmid":..,"node":..,...}; POST /_fake/vms/<id> patch
  DELETE /_fake/vms/<id>          the guest vanishes (as if deleted by someone else)
  POST /_fake/tickets/expire      every ticket issued so far stops working
  POST /_fake/privileges          {"privs":["VM.Audit",...]} for the API token (null = all)
  POST /_fake/nextid-race         {"count":n}: the next n ids handed out by /cluster/nextid
                                  are taken by "another client" right away
  GET  /_fake/tasks               every task
  GET  /_fake/clones              every clone started (source, newid, full, snapname)
The same settings and faults can be given on the command line (--fault JSON, repeatable).

Start-up writes a JSON "ready file" (--ready-file) with url, port, ca_file, fingerprint and
the credentials, then serves until SIGTERM/SIGINT.
"""

import argparse
import base64
import gzip
import hashlib
import json
import os
import random
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API = "/api2/json"
ALL_PRIVS = [
    "VM.Audit", "VM.PowerMgmt", "VM.Snapshot", "VM.Clone", "VM.Monitor",
    "VM.Config.Options", "VM.Config.Memory", "VM.Config.CPU", "VM.Config.Disk", "VM.Allocate",
    "Datastore.AllocateSpace", "Sys.Audit",
]
DNS_NAME = re.compile(r"^(?=.{1,63}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
                      r"(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$")
CONFIG_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]+$")   # pve-configid: at least 2
TAG = re.compile(r"^[a-z0-9_][a-z0-9_\-+.]*$", re.I)


class TaskError(Exception):
    """A failure that shows in the task's exitstatus (the POST itself succeeded)."""


class HttpError(Exception):
    """A failure answered at once: status, reason phrase, optional errors object."""

    def __init__(self, status, reason, errors=None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.errors = errors


def now():
    return time.time()


def random_mac():
    return "BC:24:11:%02X:%02X:%02X" % tuple(random.randrange(256) for _ in range(3))


# ---------------------------------------------------------------- model

class Guest:
    def __init__(self, vmid, node, kind="qemu", **kw):
        self.vmid = vmid
        self.node = node
        self.kind = kind                    # qemu | lxc
        self.conf = {
            "name": kw.get("name", "vm-%d" % vmid),
            "memory": int(kw.get("memory", 2048)),
            "cores": int(kw.get("cores", 2)),
            "sockets": int(kw.get("sockets", 1)),
            "ostype": kw.get("ostype", "l26"),
            "net0": "virtio=%s,bridge=vmbr0,firewall=1" % kw.get("mac", random_mac()),
            "scsi0": "local-lvm:vm-%d-disk-0,size=%s" % (vmid, kw.get("disk", "32G")),
            "ide2": "none,media=cdrom",
            "boot": "order=scsi0;ide2;net0",
            "scsihw": "virtio-scsi-single",
            "vmgenid": "%08x-0000-4000-8000-%012x" % (vmid, vmid),
        }
        if kw.get("agent", True):
            self.conf["agent"] = "1"
        if kw.get("tags"):
            self.conf["tags"] = kw["tags"]
        if kw.get("description"):
            self.conf["description"] = kw["description"]
        if kw.get("template"):
            self.conf["template"] = 1
        if kw.get("lock"):
            self.conf["lock"] = kw["lock"]
        self.base = bool(kw.get("template"))  # disks are base volumes (POST /template)
        self.status = kw.get("status", "stopped")
        self.qmpstatus = "running"
        self.started = now() - random.randint(60, 86400) if self.status == "running" else 0
        self.agent_running = bool(kw.get("agent_running", self.status == "running"))
        self.agent_ready_at = 0.0
        self.ipv4 = kw.get("ip", "10.0.%d.%d" % ((vmid // 250) % 250, vmid % 250 + 1))
        self.ignores_shutdown = bool(kw.get("ignores_shutdown", False))
        self.snapshots = {}                 # name -> dict(conf, snaptime, description, vmstate, parent)
        self.parent = None                  # snapshot the live state derives from
        self.linked_from = None             # vmid of the template this is a linked clone of
        self.version = 1                    # bumps on every config change (digest)

    # -- config helpers
    def digest(self):
        text = "\n".join("%s: %s" % (k, self.conf[k]) for k in sorted(self.conf))
        return hashlib.sha1(("%d\n%s" % (self.version, text)).encode()).hexdigest()

    def touch(self):
        self.version += 1

    def lock(self):
        return self.conf.get("lock")

    def is_template(self):
        return int(self.conf.get("template", 0) or 0) == 1

    def maxmem(self):
        return int(self.conf.get("memory", 512)) * 1024 * 1024

    def maxcpu(self):
        return int(self.conf.get("cores", 1)) * int(self.conf.get("sockets", 1))

    def uptime(self):
        return int(now() - self.started) if self.status == "running" else 0

    def agent_configured(self):
        a = str(self.conf.get("agent", "0"))
        return a.split(",")[0] in ("1", "enabled=1")

    def resource(self):
        e = {
            "id": "%s/%d" % (self.kind, self.vmid), "vmid": self.vmid, "node": self.node,
            "type": self.kind, "name": self.conf.get("name", ""),
            # pvestatd writes 'running' for paused VMs too: qmpstatus is not in here.
            "status": self.status, "template": 1 if self.is_template() else 0,
            "maxmem": self.maxmem(), "mem": self.maxmem() // 3 if self.status == "running" else 0,
            "maxcpu": self.maxcpu(), "cpu": 0.03 if self.status == "running" else 0,
            "uptime": self.uptime(), "maxdisk": 34359738368, "disk": 0,
            "netin": 0, "netout": 0, "diskread": 0, "diskwrite": 0,
        }
        if self.conf.get("tags"):
            e["tags"] = self.conf["tags"]
        if self.lock():
            e["lock"] = self.lock()
        return e

    def public(self):
        d = {"vmid": self.vmid, "node": self.node, "type": self.kind, "status": self.status,
             "qmpstatus": self.qmpstatus, "agent_running": self.agent_running,
             "ignores_shutdown": self.ignores_shutdown, "base": self.base,
             "linked_from": self.linked_from, "ip": self.ipv4, "config": dict(self.conf),
             "digest": self.digest(), "parent": self.parent,
             "snapshots": {k: {"description": v["description"], "parent": v["parent"],
                               "snaptime": v["snaptime"]} for k, v in self.snapshots.items()}}
        return d


class Task:
    def __init__(self, fake, node, ttype, tid, user):
        self.fake = fake
        fake.pid_counter += 1
        self.node = node
        self.type = ttype
        self.id = str(tid)
        self.user = user
        self.pid = fake.pid_counter
        self.pstart = fake.pstart_base + self.pid
        self.starttime = int(now())
        self.upid = "UPID:%s:%08X:%08X:%08X:%s:%s:%s:" % (
            node, self.pid, self.pstart, self.starttime, ttype, self.id, user)
        self.endtime = None
        self.exitstatus = None              # None while running
        self.on_end = None                  # callable under lock; may raise TaskError
        self.on_abort = None
        self.timer = None

    def running(self):
        return self.exitstatus is None

    def entry(self):
        e = {"upid": self.upid, "node": self.node, "pid": self.pid, "pstart": self.pstart,
             "starttime": self.starttime, "type": self.type, "id": self.id, "user": self.user}
        if not self.running():
            e["endtime"] = self.endtime
            e["status"] = self.exitstatus
        else:
            e["status"] = "RUNNING"   # PVE/API2/Tasks.pm fills in an active task's status
        return e

    def status(self):
        e = {"upid": self.upid, "node": self.node, "pid": self.pid, "pstart": self.pstart,
             "starttime": self.starttime, "type": self.type, "id": self.id, "user": self.user,
             "status": "running" if self.running() else "stopped"}
        if not self.running():
            e["exitstatus"] = self.exitstatus
        return e


class Fault:
    """A rule: {"match": regex on "METHOD /path" (path without /api2/json and query),
    "kind": status|slow|drop|reset|truncate|garbage|hang|task_fail,
    "status": 503, "reason": "...", "delay_ms": 500, "count": 1 (-1 = forever),
    "skip": 0 (let this many matching requests through first)}."""

    KINDS = ("status", "slow", "drop", "reset", "truncate", "garbage", "hang", "task_fail")

    def __init__(self, spec):
        if isinstance(spec, str):
            spec = json.loads(spec)
        self.kind = spec.get("kind", "status")
        if self.kind not in self.KINDS:
            raise ValueError("unknown fault kind %r" % self.kind)
        self.match = re.compile(spec.get("match", ".*"))
        self.status = int(spec.get("status", 500))
        self.reason = spec.get("reason", "Internal Server Error")
        self.delay_ms = int(spec.get("delay_ms", 1000))
        self.count = int(spec.get("count", 1))
        self.skip = int(spec.get("skip", 0))
        self.hits = 0

    def public(self):
        return {"kind": self.kind, "match": self.match.pattern, "count": self.count,
                "skip": self.skip, "hits": self.hits}


class Fake:
    def __init__(self, args):
        self.lock = threading.RLock()
        self.nodes = args.nodes.split(",")
        self.guests = {}
        self.tasks = {}
        self.task_order = []
        self.pid_counter = 0x1000
        self.pstart_base = 0x100000
        self.counters = {}
        self.connections = 0
        self.tls_resumed = 0
        self.faults = [Fault(f) for f in args.fault]
        self.token_id = args.token_id
        self.token_secret = args.token_secret
        self.user = args.user
        self.password = args.password
        self.tickets = {}                   # ticket -> (user, issued)
        self.csrf = {}                      # ticket -> csrf token
        self.tickets_valid_after = 0.0
        self.privs = None                   # None = all
        self.nextid_race = 0
        self.clones = []                    # every clone started: source, newid, full, snapname
        self.settings = {
            "latency_ms": args.latency_ms, "auth_delay_ms": args.auth_delay_ms,
            "task_ms": args.task_ms, "clone_ms": args.clone_ms,
            "ticket_lifetime_s": args.ticket_lifetime_s, "agent_delay_ms": 0,
            "shutdown_timeout_cap_ms": 300, "gzip_min": 1024, "keepalive_max": 100,
        }
        self.seed(args)

    # -- inventory
    def seed(self, args):
        n1 = self.nodes[0]
        n2 = self.nodes[1] if len(self.nodes) > 1 else n1
        if args.vms > 0:
            for i in range(args.vms):
                vmid = 1000 + i
                running = i % 2 == 0
                self.add(Guest(vmid, self.nodes[i % len(self.nodes)], name="vm-%d" % vmid,
                               status="running" if running else "stopped"))
            return
        g = self.add(Guest(100, n1, name="win11-gold", ostype="win11", memory=8192, cores=4,
                           tags="prlkit-template", description="golden image"))
        g.snapshots["RAS_TEMPLATE_VERSION_1"] = {
            "conf": dict(g.conf), "snaptime": int(now()) - 3600,
            "description": "version 1", "vmstate": 0, "parent": None}
        g.parent = "RAS_TEMPLATE_VERSION_1"
        self.add(Guest(101, n1, name="app01", status="running", ostype="l26"))
        self.add(Guest(102, n1, name="app02", status="stopped", ostype="win10"))
        self.add(Guest(103, n2, name="db01", status="running", agent_running=False))
        self.add(Guest(104, n1, name="ubuntu-base", template=True, ostype="l26"))
        self.add(Guest(105, n2, name="legacy", status="running", agent=False, ostype="other"))
        self.add(Guest(200, n1, kind="lxc", name="ct-dns", status="running"))
        self.add(Guest(201, n2, kind="lxc", name="ct-proxy", status="stopped"))

    def add(self, g):
        self.guests[g.vmid] = g
        return g

    def next_free_id(self):
        vmid = 100
        while vmid in self.guests:
            vmid += 1
        return vmid

    def qemu(self, node, vmid):
        """The qemu guest vmid on node, or the error pveproxy answers."""
        self.check_node(node)
        try:
            vmid = int(vmid)
        except ValueError:
            raise HttpError(400, "Parameter verification failed.",
                            {"vmid": "type check ('integer') failed - got '%s'" % vmid})
        g = self.guests.get(vmid)
        if g is None or g.kind != "qemu" or g.node != node:
            raise HttpError(500, "Configuration file 'nodes/%s/qemu-server/%d.conf' does not exist"
                            % (node, vmid))
        return g

    def check_node(self, node):
        if node not in self.nodes:
            raise HttpError(595, "no such cluster node '%s'" % node)

    # -- tasks
    def start_task(self, node, ttype, tid, user, begin=None, end=None, abort=None, ms=None,
                   match_key=None):
        """begin() runs now (under lock) and may raise TaskError: the task then fails.
        end() runs when the task finishes and may raise TaskError too."""
        t = Task(self, node, ttype, tid, user)
        self.tasks[t.upid] = t
        self.task_order.append(t)
        failure = None
        fault = self.take_fault(match_key, kinds=("task_fail",)) if match_key else None
        if fault is not None:
            failure = fault.reason
        else:
            try:
                if begin:
                    begin()
            except TaskError as e:
                failure = str(e)
        if failure is not None:
            def fail():
                raise TaskError(failure)
            t.on_end = fail
            dur = min(self.settings["task_ms"], 20)
        else:
            t.on_end = end
            t.on_abort = abort
            dur = self.settings["task_ms"] if ms is None else ms
        if dur <= 0:
            self.finish_task(t)
        else:
            t.timer = threading.Timer(dur / 1000.0, self.finish_task_locked, (t,))
            t.timer.daemon = True
            t.timer.start()
        return t.upid

    def finish_task_locked(self, t):
        with self.lock:
            self.finish_task(t)

    def finish_task(self, t, exitstatus=None):
        if not t.running():
            return
        status = "OK"
        if exitstatus is not None:
            status = exitstatus
        elif t.on_end is not None:
            try:
                r = t.on_end()
                if isinstance(r, str):
                    status = r
            except TaskError as e:
                status = str(e)
        t.exitstatus = status
        t.endtime = int(now())

    def take_fault(self, key, kinds=None):
        for f in self.faults:
            if kinds is not None and f.kind not in kinds:
                continue
            if kinds is None and f.kind == "task_fail":
                continue
            if f.count == 0 or not f.match.search(key):
                continue
            if f.skip > 0:
                f.skip -= 1
                continue
            f.hits += 1
            if f.count > 0:
                f.count -= 1
            return f
        return None


# ---------------------------------------------------------------- parameters

def want_bool(params, name, errors, default=None):
    v = params.get(name)
    if v is None:
        return default
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v in ("0", "1"):
        return v == "1"
    errors[name] = "type check ('boolean') failed - got '%s'" % v
    return default


def want_int(params, name, errors, lo=None, hi=None, default=None):
    v = params.get(name)
    if v is None:
        return default
    try:
        if isinstance(v, bool):
            raise ValueError
        i = int(v)
    except (TypeError, ValueError):
        errors[name] = "type check ('integer') failed - got '%s'" % v
        return default
    if lo is not None and i < lo:
        errors[name] = "value must have a minimum value of %d" % lo
    if hi is not None and i > hi:
        errors[name] = "value may have a maximum value of %d" % hi
    return i


def check_schema(params, allowed, required=()):
    errors = {}
    for k in params:
        if k not in allowed:
            errors[k] = ("property is not defined in schema and the schema does not allow "
                         "additional properties")
    for k in required:
        if params.get(k) in (None, ""):
            errors[k] = "property is missing and it is not optional"
    return errors


def raise_param_errors(errors):
    if errors:
        raise HttpError(400, "Parameter verification failed.", errors)


# ---------------------------------------------------------------- HTTP

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pve-api-daemon/3.0"
    sys_version = ""

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fake-pve: " + (fmt % args) + "\n")

    def setup(self):
        super().setup()
        self.requests_on_conn = 0
        with self.fake.lock:
            self.fake.connections += 1

    @property
    def fake(self):
        return self.server.fake

    # -- plumbing
    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def parse_params(self, query, body):
        params = {}
        for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
            params[k] = v
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if body:
            if ctype == "application/json":
                try:
                    obj = json.loads(body.decode("utf-8"))
                except ValueError:
                    raise HttpError(400, "Parameter verification failed.",
                                    {"body": "invalid JSON"})
                if not isinstance(obj, dict):
                    raise HttpError(400, "Parameter verification failed.",
                                    {"body": "not an object"})
                params.update(obj)
            else:
                for k, v in urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                                   keep_blank_values=True):
                    params[k] = v
        return params

    def send_json(self, status, reason, obj, close=False):
        raw = json.dumps(obj, separators=(",", ":")).encode()
        gz = "gzip" in (self.headers.get("Accept-Encoding") or "") and \
            len(raw) >= self.fake.settings["gzip_min"]
        if gz:
            raw = gzip.compress(raw, compresslevel=1)
        self.requests_on_conn += 1
        if self.requests_on_conn >= self.fake.settings["keepalive_max"]:
            close = True
        self.send_response(status, reason)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Cache-Control", "max-age=0")
        if gz:
            self.send_header("Content-Encoding", "gzip")
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Connection", "Keep-Alive")
        self.end_headers()
        self.wfile.write(raw)
        self.wfile.flush()

    def send_error_answer(self, e):
        body = {"data": None}
        if e.errors:
            body["errors"] = e.errors
        # pveproxy closes the connection after any error answer.
        self.send_json(e.status, e.reason, body, close=True)

    def count(self, method, path):
        p = re.sub(r"/nodes/[^/]+", "/nodes/{node}", path)
        p = re.sub(r"/(qemu|lxc)/\d+", r"/\1/{vmid}", p)
        p = re.sub(r"/tasks/UPID[^/]*", "/tasks/{upid}", p)
        p = re.sub(r"/snapshot/[^/]+", "/snapshot/{snapname}", p)
        key = "%s %s" % (method, p)
        with self.fake.lock:
            self.fake.counters[key] = self.fake.counters.get(key, 0) + 1
            self.fake.counters["_total"] = self.fake.counters.get("_total", 0) + 1

    def dispatch(self, method):
        try:
            self.serve_one(method)
        except OSError:
            # The client went away (or a fault cut the connection): nothing to answer.
            self.close_connection = True

    def serve_one(self, method):
        if self.requests_on_conn == 0 and getattr(self.connection, "session_reused", False):
            with self.fake.lock:
                self.fake.tls_resumed += 1
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        try:
            body = self.read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        if path.startswith("/_fake"):
            return self.admin(method, path, body)
        if not path.startswith(API + "/"):
            return self.send_error_answer(HttpError(501, "Unexpected content for method '%s'"
                                                    % method))
        rel = urllib.parse.unquote(path[len(API):])
        self.count(method, re.sub(r"\?.*", "", path[len(API):]))
        key = "%s %s" % (method, rel)
        with self.fake.lock:
            fault = self.fake.take_fault(key)
            latency = self.fake.settings["latency_ms"]
        if latency > 0:
            time.sleep(latency / 1000.0)
        if fault is not None and self.apply_fault(fault):
            return
        try:
            params = self.parse_params(url.query, body)
            if method == "POST" and rel == "/access/ticket":
                data = self.login(params)
            else:
                user = self.authenticate(method, rel, params)
                with self.fake.lock:
                    data = self.route(method, rel, params, user)
            self.send_json(200, "OK", {"data": data})
        except HttpError as e:
            if e.status == 401 and self.fake.settings["auth_delay_ms"] > 0:
                time.sleep(self.fake.settings["auth_delay_ms"] / 1000.0)
            self.send_error_answer(e)
        except Exception as e:  # a bug in the fake: say so loudly, keep serving
            if isinstance(e, OSError):
                raise
            import traceback
            traceback.print_exc()
            self.send_error_answer(HttpError(500, "fake-pve internal error: %s" % e))

    def apply_fault(self, f):
        """True when the fault answered (or killed) the request."""
        if f.kind == "slow":
            time.sleep(f.delay_ms / 1000.0)
            return False
        if f.kind == "status":
            self.send_error_answer(HttpError(f.status, f.reason))
            return True
        sock = self.connection
        if f.kind == "hang":
            time.sleep(f.delay_ms / 1000.0)
        if f.kind == "truncate":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 4096\r\n\r\n{\"data\":[{\"vmid\":10")
            self.wfile.flush()
        if f.kind == "garbage":
            self.send_json_raw(b"{\"data\": [ {\"vmid\": 1,,, <html>garbage")
            return True
        if f.kind == "reset":
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True
        return True

    def send_json_raw(self, raw):
        self.send_response(200, "OK")
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)
        self.wfile.flush()

    # -- auth
    def authenticate(self, method, rel, params):
        fake = self.fake
        if method == "POST" and rel == "/access/ticket":
            return None
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("PVEAPIToken="):
            value = auth[len("PVEAPIToken="):].strip()
            tid, _, secret = value.partition("=")
            if tid != fake.token_id:
                user, _, name = tid.partition("!")
                raise HttpError(401, "no such token '%s' for user '%s'" % (name, user))
            if not secret or secret != fake.token_secret:
                raise HttpError(401, "invalid token value!")
            return tid
        cookie = self.headers.get("Cookie") or ""
        m = re.search(r"PVEAuthCookie=([^;]+)", cookie)
        if not m:
            raise HttpError(401, "No ticket")
        ticket = urllib.parse.unquote(m.group(1))
        with fake.lock:
            info = fake.tickets.get(ticket)
            csrf = fake.csrf.get(ticket)
            valid_after = fake.tickets_valid_after
            lifetime = fake.settings["ticket_lifetime_s"]
        if info is None or info[1] < valid_after or now() - info[1] > lifetime:
            raise HttpError(401, "permission denied - invalid PVE ticket")
        if method != "GET" and self.headers.get("CSRFPreventionToken") != csrf:
            raise HttpError(401, "Permission denied - invalid csrf token")
        return info[0]

    def need(self, user, path, priv):
        fake = self.fake
        if user == fake.token_id and fake.privs is not None and priv not in fake.privs:
            raise HttpError(403, "Permission check failed (%s, %s)" % (path, priv))

    def login(self, params):
        fake = self.fake
        errors = check_schema(params, ("username", "password", "realm", "otp", "path",
                                       "privs", "new-format", "tfa-challenge"),
                              ("username", "password"))
        raise_param_errors(errors)
        username = params["username"]
        if "@" not in username and params.get("realm"):
            username = "%s@%s" % (username, params["realm"])
        password = params["password"]
        ok = False
        with fake.lock:
            if username == fake.user and password == fake.password:
                ok = True
            else:
                info = fake.tickets.get(password)
                if info and info[0] == username and info[1] >= fake.tickets_valid_after and \
                        now() - info[1] <= fake.settings["ticket_lifetime_s"]:
                    ok = True
        if not ok:
            raise HttpError(401, "authentication failure")
        stamp = "%08X" % int(now())
        sig = base64.b64encode(os.urandom(48)).decode().rstrip("=")
        ticket = "PVE:%s:%s::%s" % (username, stamp, sig)
        csrf = "%s:%s" % (stamp, base64.b64encode(os.urandom(24)).decode().rstrip("="))
        with fake.lock:
            fake.tickets[ticket] = (username, now())
            fake.csrf[ticket] = csrf
        return {"username": username, "ticket": ticket, "CSRFPreventionToken": csrf,
                "cap": {"vms": {p: 1 for p in ALL_PRIVS if p.startswith("VM.")}}}

    # -- routing (called with fake.lock held)
    def route(self, method, rel, params, user):
        fake = self.fake
        parts = [p for p in rel.split("/") if p]
        if method == "GET" and parts == ["version"]:
            return {"version": "8.2.4", "release": "8.2", "repoid": "faa83925c9641325"}
        if method == "GET" and parts == ["cluster", "resources"]:
            return self.cluster_resources(params)
        if method == "GET" and parts == ["cluster", "nextid"]:
            return self.nextid(params)
        if method == "GET" and parts == ["nodes"]:
            return [{"node": n, "status": "online", "type": "node", "id": "node/" + n,
                     "maxcpu": 16, "cpu": 0.05, "maxmem": 68719476736, "mem": 17179869184,
                     "uptime": 123456, "level": ""} for n in fake.nodes]
        if len(parts) >= 2 and parts[0] == "nodes":
            node = parts[1]
            fake.check_node(node)
            rest = parts[2:]
            if method == "GET" and rest == ["status"]:
                self.need(user, "/nodes/" + node, "Sys.Audit")
                return {"cpu": 0.05, "uptime": 123456, "pveversion": "pve-manager/8.2.4/faa83925c9641325",
                        "kversion": "Linux 6.8.12-1-pve", "loadavg": ["0.10", "0.20", "0.30"],
                        "cpuinfo": {"model": "AMD EPYC 7302P 16-Core Processor", "cpus": 16,
                                    "sockets": 1, "cores": 16, "mhz": "3000.000"},
                        "memory": {"total": 68719476736, "used": 17179869184,
                                   "free": 51539607552}}
            if rest and rest[0] == "tasks":
                return self.tasks(method, node, rest[1:], params, user)
            if len(rest) >= 2 and rest[0] == "qemu":
                return self.qemu(method, node, rest[1], rest[2:], params, user)
            if rest == ["qemu"] and method == "GET":
                return [self.vm_status(g, short=True) for g in fake.guests.values()
                        if g.node == node and g.kind == "qemu"]
        raise HttpError(501, "Method '%s %s' not implemented" % (method, rel))

    def cluster_resources(self, params):
        errors = check_schema(params, ("type",))
        t = params.get("type")
        if t is not None and t not in ("vm", "storage", "node", "sdn", "pool"):
            errors["type"] = "value '%s' does not have a value in the enumeration " \
                             "'vm, storage, node, sdn'" % t
        raise_param_errors(errors)
        out = []
        if t in (None, "node"):
            out += [{"id": "node/" + n, "node": n, "type": "node", "status": "online"}
                    for n in self.fake.nodes]
        if t in (None, "vm"):
            out += [g.resource() for g in sorted(self.fake.guests.values(), key=lambda g: g.vmid)]
        return out

    def nextid(self, params):
        fake = self.fake
        errors = check_schema(params, ("vmid",))
        raise_param_errors(errors)
        if params.get("vmid"):
            vmid = want_int(params, "vmid", errors, 100, 999999999)
            raise_param_errors(errors)
            if vmid in fake.guests:
                raise HttpError(400, "Parameter verification failed.",
                                {"vmid": "VM %d already exists" % vmid})
            return str(vmid)
        vmid = fake.next_free_id()
        if fake.nextid_race > 0:
            fake.nextid_race -= 1
            fake.add(Guest(vmid, fake.nodes[0], name="raced-%d" % vmid))
        return str(vmid)

    # -- tasks
    def tasks(self, method, node, rest, params, user):
        fake = self.fake
        if not rest and method == "GET":
            errors = check_schema(params, ("vmid", "typefilter", "source", "since", "until",
                                           "start", "limit", "userfilter", "errors",
                                           "statusfilter"))
            vmid = want_int(params, "vmid", errors, 100)
            since = want_int(params, "since", errors, 0)
            limit = want_int(params, "limit", errors, 0, default=50)
            start = want_int(params, "start", errors, 0, default=0)
            source = params.get("source", "archive")
            if source not in ("archive", "active", "all"):
                errors["source"] = "value '%s' does not have a value in the enumeration " \
                                   "'archive, active, all'" % source
            raise_param_errors(errors)
            out = []
            for t in reversed(fake.task_order):
                if t.node != node:
                    continue
                if source == "archive" and t.running():
                    continue
                if source == "active" and not t.running():
                    continue
                if vmid is not None and t.id != str(vmid):
                    continue
                if params.get("typefilter") and t.type != params["typefilter"]:
                    continue
                if since is not None and t.starttime < since:
                    continue
                out.append(t.entry())
            return out[start:start + limit] if limit else out[start:]
        if len(rest) >= 1:
            upid = rest[0]
            t = fake.tasks.get(upid)
            m = re.match(r"^UPID:([^:]+):", upid)
            if m is None:
                raise HttpError(400, "Parameter verification failed.",
                                {"upid": "unable to parse worker upid '%s'" % upid})
            if t is None or t.node != node:
                raise HttpError(500, "no such task")
            if method == "GET" and rest[1:] == ["status"]:
                return t.status()
            if method == "GET" and rest[1:] == ["log"]:
                return [{"n": 1, "t": "TASK %s" % (t.exitstatus or "running")}]
            if method == "DELETE" and rest[1:] == []:
                if t.running():
                    if t.timer:
                        t.timer.cancel()
                    if t.on_abort:
                        t.on_abort()
                    fake.finish_task(t, exitstatus="interrupted by signal")
                return None
        raise HttpError(501, "Method not implemented")

    # -- qemu
    def vm_status(self, g, short=False):
        s = {"vmid": g.vmid, "name": g.conf.get("name", ""), "status": g.status,
             "uptime": g.uptime(), "cpus": g.maxcpu(), "maxmem": g.maxmem(),
             "mem": g.maxmem() // 3 if g.status == "running" else 0,
             "cpu": 0.03 if g.status == "running" else 0, "maxdisk": 34359738368,
             "disk": 0, "netin": 0, "netout": 0, "diskread": 0, "diskwrite": 0}
        if g.is_template():
            s["template"] = 1
        if g.lock():
            s["lock"] = g.lock()
        if g.conf.get("tags"):
            s["tags"] = g.conf["tags"]
        if not short:
            s["ha"] = {"managed": 0}
            if g.status == "running":
                s["qmpstatus"] = g.qmpstatus
                s["pid"] = 4000 + g.vmid
            if g.agent_configured():
                s["agent"] = 1
        return s

    def qemu(self, method, node, vmid_s, rest, params, user):
        fake = self.fake
        g = fake.qemu(node, vmid_s)
        vpath = "/vms/%d" % g.vmid
        if rest == ["config"] and method == "GET":
            self.need(user, vpath, "VM.Audit")
            raise_param_errors(check_schema(params, ("current", "snapshot")))
            c = dict(g.conf)
            c["digest"] = g.digest()
            if "tags" in c:
                c["tags"] = c["tags"]
            return c
        if rest == ["config"] and method in ("PUT", "POST"):
            return self.vm_config_set(g, method, params, user, vpath)
        if rest == ["status", "current"] and method == "GET":
            self.need(user, vpath, "VM.Audit")
            return self.vm_status(g)
        if len(rest) == 2 and rest[0] == "status" and method == "POST":
            self.need(user, vpath, "VM.PowerMgmt")
            return self.vm_power(g, rest[1], params, user)
        if rest == [] and method == "DELETE":
            self.need(user, vpath, "VM.Allocate")
            return self.vm_delete(g, params, user)
        if rest == ["clone"] and method == "POST":
            self.need(user, vpath, "VM.Clone")
            return self.vm_clone(g, params, user)
        if rest == ["template"] and method == "POST":
            self.need(user, vpath, "VM.Allocate")
            raise_param_errors(check_schema(params, ("disk",)))
            if g.lock():
                raise HttpError(500, "VM is locked (%s)" % g.lock())
            if g.status == "running":
                raise HttpError(500, "you can't convert a VM to template if VM is running")
            if g.snapshots:
                raise HttpError(500, "unable to create template, because VM contains snapshots")

            def end():
                g.conf["template"] = 1
                g.base = True
                g.touch()
            return fake.start_task(node, "qmtemplate", g.vmid, user, end=end,
                                   match_key="POST template %d" % g.vmid)
        if rest and rest[0] == "snapshot":
            self.need(user, vpath, "VM.Snapshot" if method != "GET" else "VM.Audit")
            return self.vm_snapshot(g, method, rest[1:], params, user)
        if rest == ["agent", "network-get-interfaces"] and method == "GET":
            self.need(user, vpath, "VM.Monitor")
            return self.vm_agent(g)
        raise HttpError(501, "Method '%s' not implemented" % method)

    def vm_config_set(self, g, method, params, user, vpath):
        fake = self.fake
        errors = check_schema(params, ("name", "memory", "cores", "sockets", "description",
                                       "tags", "template", "digest", "delete", "ostype",
                                       "agent", "onboot", "revert", "skiplock"))
        if "name" in params and not DNS_NAME.match(str(params["name"])):
            errors["name"] = "value does not look like a valid DNS name"
        memory = want_int(params, "memory", errors, 16, 4194304)
        cores = want_int(params, "cores", errors, 1, 1024)
        sockets = want_int(params, "sockets", errors, 1, 16)
        template = want_bool(params, "template", errors)
        if "tags" in params:
            for t in re.split(r"[;, ]+", str(params["tags"]).strip()):
                if t and not TAG.match(t):
                    errors["tags"] = "invalid format - invalid tag '%s'" % t
        if "description" in params and len(str(params["description"])) > 8192:
            errors["description"] = "value may only be 8192 characters long"
        raise_param_errors(errors)
        for p, priv in (("memory", "VM.Config.Memory"), ("cores", "VM.Config.CPU"),
                        ("sockets", "VM.Config.CPU")):
            if p in params:
                self.need(user, vpath, priv)
        if any(p in params for p in ("name", "description", "tags", "template", "ostype")):
            self.need(user, vpath, "VM.Config.Options")
        if g.lock() and not params.get("skiplock"):
            raise HttpError(500, "VM is locked (%s)" % g.lock())
        if params.get("digest") and params["digest"] != g.digest():
            raise HttpError(500, "checksum mismatch (file change by other user?)")

        def apply():
            for k in ("name", "description", "tags", "ostype", "agent"):
                if k in params:
                    g.conf[k] = str(params[k])
            if memory is not None:
                g.conf["memory"] = memory
            if cores is not None:
                g.conf["cores"] = cores
            if sockets is not None:
                g.conf["sockets"] = sockets
            if template is not None:
                if template:
                    g.conf["template"] = 1
                else:
                    g.conf.pop("template", None)
            for k in str(params.get("delete", "")).split(","):
                k = k.strip()
                if k:
                    g.conf.pop(k, None)
            if g.conf.get("tags") == "":
                g.conf.pop("tags")
            g.touch()
        if method == "PUT":
            apply()
            return None
        return fake.start_task(g.node, "qmconfig", g.vmid, user, end=apply, ms=5)

    def vm_power(self, g, op, params, user):
        fake = self.fake
        allowed = {
            "start": ("timeout", "skiplock", "migratedfrom", "stateuri", "machine", "targetstorage", "forceCPU"),
            "stop": ("timeout", "skiplock", "keepActive", "migratedfrom", "overrule-shutdown"),
            "shutdown": ("timeout", "forceStop", "keepActive", "skiplock"),
            "reboot": ("timeout",),
            "reset": ("skiplock",),
            "suspend": ("todisk", "skiplock", "statestorage"),
            "resume": ("skiplock", "nocheck"),
        }
        if op not in allowed:
            raise HttpError(501, "Method 'POST /nodes/%s/qemu/%d/status/%s' not implemented"
                            % (g.node, g.vmid, op))
        errors = check_schema(params, allowed[op])
        force = want_bool(params, "forceStop", errors, False)
        todisk = want_bool(params, "todisk", errors, False)
        timeout = want_int(params, "timeout", errors, 0, default=60)
        raise_param_errors(errors)
        if op == "suspend" and todisk:   # the RAM state becomes a volume of the VM
            self.need(user, "/vms/%d" % g.vmid, "VM.Config.Disk")
        key = "POST status/%s %d" % (op, g.vmid)

        def check_lock(allow=()):
            lk = g.lock()
            if lk and lk not in allow:
                raise TaskError("VM is locked (%s)" % lk)

        def boot():
            g.status = "running"
            g.qmpstatus = "running"
            g.started = now()
            g.agent_running = g.agent_configured()
            g.agent_ready_at = now() + fake.settings["agent_delay_ms"] / 1000.0

        if op == "start":
            def begin():
                if g.is_template():
                    raise TaskError("you can't start a vm if it's a template")
                check_lock(allow=("suspended",))
                if g.status == "running":
                    raise TaskError("VM %d already running" % g.vmid)

            def end():
                g.conf.pop("lock", None)
                boot()
            return fake.start_task(g.node, "qmstart", g.vmid, user, begin, end, match_key=key)
        if op == "stop":
            def begin():
                # Stopping a hibernated VM discards its saved state (and the lock).
                check_lock(allow=("suspended",))

            def end():
                if g.lock() == "suspended":
                    g.conf.pop("lock")
                    g.touch()
                g.status = "stopped"
                g.agent_running = False
            return fake.start_task(g.node, "qmstop", g.vmid, user, begin, end, match_key=key)
        if op == "shutdown":
            if g.status != "running":
                raise HttpError(500, "VM %d not running" % g.vmid)
            warnings = []

            def begin():
                check_lock()

            def end():
                if g.ignores_shutdown or g.qmpstatus == "paused":
                    if not force:
                        raise TaskError("VM quit/powerdown failed - got timeout")
                    warnings.append(1)
                g.status = "stopped"
                g.agent_running = False
                return "WARNINGS: 1" if warnings else "OK"
            ms = fake.settings["task_ms"]
            if g.ignores_shutdown:
                ms = min(timeout * 1000, fake.settings["shutdown_timeout_cap_ms"])
            return fake.start_task(g.node, "qmshutdown", g.vmid, user, begin, end, ms=ms,
                                   match_key=key)
        if op in ("reboot", "reset"):
            if g.status != "running":
                raise HttpError(500, "VM %d not running" % g.vmid)

            def begin():
                check_lock()

            def end():
                boot()
            return fake.start_task(g.node, "qm" + op, g.vmid, user, begin, end, match_key=key)
        if op == "suspend":
            if g.status != "running":
                raise HttpError(500, "VM %d not running" % g.vmid)

            def begin():
                check_lock()
                if todisk:
                    g.conf["lock"] = "suspending"

            def end():
                if todisk:
                    g.conf["lock"] = "suspended"
                    g.status = "stopped"
                    g.agent_running = False
                else:
                    g.qmpstatus = "paused"
            return fake.start_task(g.node, "qmsuspend" if todisk else "qmpause", g.vmid, user,
                                   begin, end, match_key=key)
        if op == "resume":
            hibernated = g.lock() == "suspended"
            if not hibernated and g.status != "running":
                raise HttpError(500, "VM %d not running" % g.vmid)

            def begin():
                check_lock(allow=("suspended",))

            def end():
                if hibernated:
                    g.conf.pop("lock", None)
                    boot()
                else:
                    g.qmpstatus = "running"
            return fake.start_task(g.node, "qmresume", g.vmid, user, begin, end, match_key=key)

    def vm_delete(self, g, params, user):
        fake = self.fake
        errors = check_schema(params, ("purge", "destroy-unreferenced-disks", "skiplock"))
        want_bool(params, "purge", errors)
        want_bool(params, "destroy-unreferenced-disks", errors)
        raise_param_errors(errors)
        if g.lock():
            raise HttpError(500, "VM is locked (%s)" % g.lock())
        if g.status == "running":
            raise HttpError(500, "VM %d is running - destroy failed" % g.vmid)

        def begin():
            users = [o.vmid for o in fake.guests.values() if o.linked_from == g.vmid]
            if users:
                raise TaskError("volume deletion failed: base volume 'base-%d-disk-0' is still "
                                "in use by linked cloned VM %d" % (g.vmid, users[0]))
            g.conf["lock"] = "destroyed"

        def end():
            fake.guests.pop(g.vmid, None)
        return fake.start_task(g.node, "qmdestroy", g.vmid, user, begin, end,
                               match_key="DELETE %d" % g.vmid)

    def vm_clone(self, g, params, user):
        fake = self.fake
        errors = check_schema(params, ("newid", "name", "full", "snapname", "target", "storage",
                                       "format", "description", "pool", "bwlimit"),
                              ("newid",))
        newid = want_int(params, "newid", errors, 100, 999999999)
        full = want_bool(params, "full", errors)
        if "name" in params and not DNS_NAME.match(str(params["name"])):
            errors["name"] = "value does not look like a valid DNS name"
        if params.get("target") and params["target"] not in fake.nodes:
            errors["target"] = "no such cluster node '%s'" % params["target"]
        raise_param_errors(errors)
        if full is None:
            full = not g.is_template()
        snapname = params.get("snapname")
        if snapname and snapname not in g.snapshots:
            raise HttpError(500, "snapshot '%s' does not exist" % snapname)
        if newid in fake.guests:
            raise HttpError(500, "VM %d already exists" % newid)
        if not full and not g.is_template():
            raise HttpError(500, "parameter 'full' must be set for non-template VMs")
        if (params.get("storage") or params.get("format")) and not full:
            raise HttpError(400, "Parameter verification failed.",
                            {"storage": "parameter 'storage' not allowed for linked clones"})
        if g.lock() and g.lock() not in ("suspended",):
            raise HttpError(500, "VM is locked (%s)" % g.lock())
        src_conf = dict(g.snapshots[snapname]["conf"] if snapname else g.conf)
        node = params.get("target") or g.node
        c = Guest(newid, node)
        c.conf = {k: v for k, v in src_conf.items() if k not in ("template", "lock")}
        c.conf["name"] = params.get("name") or "Copy-of-VM-%s" % src_conf.get("name", g.vmid)
        if params.get("description") is not None:
            c.conf["description"] = params["description"]
        for k in list(c.conf):
            if re.match(r"^net\d+$", k):
                c.conf[k] = re.sub(r"=([0-9A-Fa-f:]{17})", "=" + random_mac(), str(c.conf[k]), 1)
        c.conf["lock"] = "clone"
        fake.clones.append({"source": g.vmid, "newid": newid, "full": bool(full),
                            "snapname": snapname, "name": c.conf["name"]})
        c.ipv4 = "10.1.%d.%d" % ((newid // 250) % 250, newid % 250 + 1)
        c.agent_running = False
        c.status = "stopped"
        linked = not full

        def begin():
            if linked and (not g.base or snapname):
                raise TaskError("linked clone feature is not supported for drive 'scsi0'")
            fake.guests[newid] = c

        def end():
            if fake.guests.get(newid) is c:
                c.conf.pop("lock", None)
                c.linked_from = g.vmid if linked else None
                c.touch()

        def abort():
            if fake.guests.get(newid) is c:
                del fake.guests[newid]
        return fake.start_task(g.node, "qmclone", g.vmid, user, begin, end, abort,
                               ms=fake.settings["clone_ms"], match_key="POST clone %d" % g.vmid)

    def vm_snapshot(self, g, method, rest, params, user):
        fake = self.fake
        if method == "GET" and not rest:
            raise_param_errors(check_schema(params, ()))
            out = []
            for name, s in g.snapshots.items():
                e = {"name": name, "description": s["description"], "snaptime": s["snaptime"]}
                if s["vmstate"]:
                    e["vmstate"] = 1
                if s["parent"]:
                    e["parent"] = s["parent"]
                out.append(e)
            cur = {"name": "current", "description": "You are here!",
                   "running": 1 if g.status == "running" else 0, "digest": g.digest()}
            if g.parent:
                cur["parent"] = g.parent
            out.append(cur)
            return out
        if method == "POST" and not rest:
            errors = check_schema(params, ("snapname", "description", "vmstate"), ("snapname",))
            name = str(params.get("snapname", ""))
            if name and (not CONFIG_ID.match(name) or len(name) > 40):
                errors["snapname"] = "invalid format - invalid configuration ID '%s'" % name
            vmstate = want_bool(params, "vmstate", errors, False)
            raise_param_errors(errors)
            if name == "current":
                raise HttpError(500, "unable to use snapshot name 'current' (reserved name)")
            if name.lower() == "pending":
                raise HttpError(500, "unable to use snapshot name 'pending' (reserved name)")
            if g.is_template():
                raise HttpError(500, "you can't take a snapshot if it's a template")
            key = "POST snapshot %d %s" % (g.vmid, name)

            def begin():
                if g.lock():
                    raise TaskError("VM is locked (%s)" % g.lock())
                if name == "current" or name == "vzdump":
                    raise TaskError("snapshot name '%s' is reserved" % name)
                if name in g.snapshots:
                    raise TaskError("snapshot name '%s' already used" % name)
                g.conf["lock"] = "snapshot"

            def end():
                g.conf.pop("lock", None)
                g.snapshots[name] = {"conf": dict(g.conf), "snaptime": int(now()),
                                     "description": str(params.get("description", "")),
                                     "vmstate": 1 if (vmstate and g.status == "running") else 0,
                                     "parent": g.parent}
                g.parent = name
                g.touch()

            def abort():
                g.conf.pop("lock", None)
            return fake.start_task(g.node, "qmsnapshot", g.vmid, user, begin, end, abort,
                                   match_key=key)
        if rest:
            name = rest[0]
            sub = rest[1:]
            if method == "DELETE" and not sub:
                errors = check_schema(params, ("force",))
                want_bool(params, "force", errors)
                raise_param_errors(errors)

                def begin():
                    if name not in g.snapshots:
                        raise TaskError("snapshot '%s' does not exist" % name)
                    if g.lock():
                        raise TaskError("VM is locked (%s)" % g.lock())
                    g.conf["lock"] = "snapshot-delete"

                def end():
                    g.conf.pop("lock", None)
                    s = g.snapshots.pop(name, None)
                    if s is not None:
                        for o in g.snapshots.values():
                            if o["parent"] == name:
                                o["parent"] = s["parent"]
                        if g.parent == name:
                            g.parent = s["parent"]
                    g.touch()

                def abort():
                    g.conf.pop("lock", None)
                return fake.start_task(g.node, "qmdelsnapshot", g.vmid, user, begin, end, abort,
                                       match_key="DELETE snapshot %d %s" % (g.vmid, name))
            if method == "POST" and sub == ["rollback"]:
                errors = check_schema(params, ("start",))
                start = want_bool(params, "start", errors, False)
                raise_param_errors(errors)

                def begin():
                    if name not in g.snapshots:
                        raise TaskError("snapshot '%s' does not exist" % name)
                    if g.lock():
                        raise TaskError("VM is locked (%s)" % g.lock())
                    g.conf["lock"] = "rollback"

                def end():
                    s = g.snapshots.get(name)
                    keep = {k: g.conf[k] for k in ("tags",) if k in g.conf}
                    g.conf = dict(s["conf"])
                    g.conf.pop("lock", None)
                    g.conf.update(keep)
                    g.parent = name
                    if not s["vmstate"]:
                        g.status = "stopped"
                        g.agent_running = False
                    if start:
                        g.status = "running"
                        g.qmpstatus = "running"
                        g.started = now()
                        g.agent_running = g.agent_configured()
                    g.touch()
                return fake.start_task(g.node, "qmrollback", g.vmid, user, begin, end,
                                       match_key="POST rollback %d %s" % (g.vmid, name))
            if method == "GET" and sub == ["config"]:
                if name not in g.snapshots:
                    raise HttpError(500, "snapshot '%s' does not exist" % name)
                return dict(g.snapshots[name]["conf"])
        raise HttpError(501, "Method not implemented")

    def vm_agent(self, g):
        if g.status != "running":
            raise HttpError(500, "VM %d is not running" % g.vmid)
        if not g.agent_configured():
            raise HttpError(500, "No QEMU guest agent configured")
        if not g.agent_running or now() < g.agent_ready_at or g.qmpstatus == "paused":
            raise HttpError(500, "QEMU guest agent is not running")
        mac = re.search(r"=([0-9A-Fa-f:]{17})", str(g.conf.get("net0", "")))
        mac = mac.group(1).lower() if mac else "bc:24:11:00:00:00"
        return {"result": [
            {"name": "lo", "hardware-address": "00:00:00:00:00:00",
             "ip-addresses": [{"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8},
                              {"ip-address": "::1", "ip-address-type": "ipv6", "prefix": 128}]},
            {"name": "eth0", "hardware-address": mac,
             "ip-addresses": [
                 {"ip-address": "fe80::be24:11ff:fe00:%x" % g.vmid, "ip-address-type": "ipv6",
                  "prefix": 64},
                 {"ip-address": g.ipv4, "ip-address-type": "ipv4", "prefix": 24},
                 {"ip-address": "169.254.10.%d" % (g.vmid % 250 + 1), "ip-address-type": "ipv4",
                  "prefix": 16},
                 {"ip-address": "fd00::%x" % g.vmid, "ip-address-type": "ipv6", "prefix": 64}],
             "statistics": {"rx-bytes": 1, "tx-bytes": 1}},
        ]}

    # -- admin
    def admin(self, method, path, body):
        fake = self.fake
        try:
            obj = json.loads(body.decode("utf-8")) if body else {}
        except ValueError:
            return self.send_json(400, "Bad JSON", {"error": "bad json"})
        parts = [p for p in path.split("/") if p][1:]
        try:
            with fake.lock:
                out = self.admin_route(method, parts, obj)
        except (KeyError, ValueError, TypeError) as e:
            return self.send_json(400, "Bad Request", {"error": str(e)})
        self.send_json(200, "OK", {"data": out})

    def admin_route(self, method, parts, obj):
        fake = self.fake
        if parts == ["counters"] and method == "GET":
            c = dict(fake.counters)
            c["_connections"] = fake.connections
            c["_tls_resumed"] = fake.tls_resumed
            return c
        if parts == ["counters", "reset"] and method == "POST":
            fake.counters = {}
            fake.connections = 0
            fake.tls_resumed = 0
            return None
        if parts == ["settings"]:
            if method == "POST":
                for k, v in obj.items():
                    if k not in fake.settings:
                        raise KeyError("unknown setting %s" % k)
                    fake.settings[k] = type(fake.settings[k])(v)
            return dict(fake.settings)
        if parts == ["faults"]:
            if method == "POST":
                rules = obj if isinstance(obj, list) else [obj]
                fake.faults += [Fault(r) for r in rules]
            elif method == "DELETE":
                fake.faults = []
            return [f.public() for f in fake.faults]
        if parts == ["tickets", "expire"] and method == "POST":
            fake.tickets_valid_after = now() + 0.001
            return None
        if parts == ["privileges"] and method == "POST":
            fake.privs = obj.get("privs")
            return fake.privs
        if parts == ["nextid-race"] and method == "POST":
            fake.nextid_race = int(obj.get("count", 1))
            return fake.nextid_race
        if parts == ["tasks"] and method == "GET":
            return [t.status() for t in fake.task_order]
        if parts == ["clones"] and method == "GET":
            return list(fake.clones)
        if parts and parts[0] == "vms":
            if len(parts) == 1 and method == "GET":
                return [g.public() for g in sorted(fake.guests.values(), key=lambda g: g.vmid)]
            if len(parts) == 1 and method == "POST":
                vmid = int(obj.pop("vmid", fake.next_free_id()))
                if vmid in fake.guests:
                    raise ValueError("vmid %d exists" % vmid)
                node = obj.pop("node", fake.nodes[0])
                kind = obj.pop("kind", "qemu")
                g = fake.add(Guest(vmid, node, kind, **obj))
                if obj.get("snapshots"):
                    parent = None
                    for name in obj["snapshots"]:
                        g.snapshots[name] = {"conf": dict(g.conf), "snaptime": int(now()),
                                             "description": "", "vmstate": 0, "parent": parent}
                        parent = name
                    g.parent = parent
                return g.public()
            vmid = int(parts[1])
            if method == "DELETE":
                fake.guests.pop(vmid, None)
                return None
            g = fake.guests[vmid]
            if method == "POST":
                for k, v in obj.items():
                    if k == "config":
                        for ck, cv in v.items():
                            if cv is None:
                                g.conf.pop(ck, None)
                            else:
                                g.conf[ck] = cv
                        g.touch()
                    elif k == "lock_ms":
                        lk = obj.get("lock", "backup")
                        g.conf["lock"] = lk
                        g.touch()

                        def unlock(g=g, lk=lk):
                            with fake.lock:
                                if g.conf.get("lock") == lk:
                                    g.conf.pop("lock")
                                    g.touch()
                        threading.Timer(int(v) / 1000.0, unlock).start()
                    elif k == "lock":
                        if v:
                            g.conf["lock"] = v
                        else:
                            g.conf.pop("lock", None)
                        g.touch()
                    elif k in ("status", "qmpstatus", "node", "ipv4", "ignores_shutdown",
                               "agent_running"):
                        setattr(g, k, v)
                        if k == "status" and v == "running":
                            g.started = now()
                    else:
                        raise KeyError("unknown field %s" % k)
            return g.public()
        raise KeyError("unknown admin path /%s" % "/".join(parts))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, fake, ctx, verbose):
        self.fake = fake
        self.ctx = ctx
        self.verbose = verbose
        super().__init__(addr, Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        # Headers and body go out in separate writes: without this, Nagle + the client's
        # delayed ACK add ~40 ms to every answer.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # The handshake runs in the handler's thread (first read), not in the accept loop.
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)


# ---------------------------------------------------------------- certificates

def make_certs(directory, host):
    """A CA and a server certificate it signed (like pve-root-ca.pem / pve-ssl.pem)."""
    ca_key = os.path.join(directory, "pve-root-ca.key")
    ca = os.path.join(directory, "pve-root-ca.pem")
    key = os.path.join(directory, "pve-ssl.key")
    csr = os.path.join(directory, "pve-ssl.csr")
    crt = os.path.join(directory, "pve-ssl.pem")
    ext = os.path.join(directory, "ext.cnf")

    def run(*cmd):
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "3",
        "-subj", "/CN=Proxmox Virtual Environment/OU=fake-pve/O=PVE Cluster Manager CA")
    run("openssl", "req", *ec, "-keyout", key, "-out", csr,
        "-subj", "/OU=PVE Cluster Node/O=Proxmox Virtual Environment/CN=%s" % host)
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=DNS:localhost,DNS:%s,IP:127.0.0.1,IP:::1\n" % host)
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", crt, "-days", "3", "-extfile", ext)
    with open(crt) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    fp = hashlib.sha256(der).hexdigest().upper()
    return ca, crt, key, ":".join(fp[i:i + 2] for i in range(0, 64, 2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert-dir", help="where to write the certificates (default: a temp dir)")
    ap.add_argument("--ready-file", help="write connection facts (JSON) here when serving")
    ap.add_argument("--nodes", default="pve1,pve2")
    ap.add_argument("--vms", type=int, default=0,
                    help="generate this many VMs (half running) instead of the seed inventory")
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--auth-delay-ms", type=int, default=3000,
                    help="pveproxy delays every 401 by about 3 s")
    ap.add_argument("--task-ms", type=int, default=30)
    ap.add_argument("--clone-ms", type=int, default=60)
    ap.add_argument("--ticket-lifetime-s", type=int, default=7200)
    ap.add_argument("--token-id", default="root@pam!automation")
    ap.add_argument("--token-secret", default="6f1e0c2a-53a4-4bd5-9a0b-6c1f1e2d3c4b")
    ap.add_argument("--user", default="root@pam")
    ap.add_argument("--password", default="fake-root-password")
    ap.add_argument("--fault", action="append", default=[], help="fault rule (JSON)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--parent-pid", type=int, default=0,
                    help="exit when this process is gone (a crashed test must not leave us)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    random.seed(args.seed)
    cert_dir = args.cert_dir or tempfile.mkdtemp(prefix="fake-pve-")
    os.makedirs(cert_dir, exist_ok=True)
    ca, crt, key, fp = make_certs(cert_dir, "pve1.fake")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    fake = Fake(args)
    srv = Server((args.host, args.port), fake, ctx, args.verbose)
    port = srv.server_address[1]
    facts = {"url": "https://%s:%d" % (args.host, port), "host": args.host, "port": port,
             "ca_file": ca, "cert_file": crt, "fingerprint": fp, "pid": os.getpid(),
             "token_id": args.token_id, "token_secret": args.token_secret,
             "user": args.user, "password": args.password, "nodes": fake.nodes}
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(facts, f)
        os.replace(tmp, args.ready_file)
    else:
        print(json.dumps(facts), flush=True)

    def stop(signum, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    if args.parent_pid > 0:
        def watch_parent():
            while True:
                time.sleep(0.5)
                try:
                    os.kill(args.parent_pid, 0)
                except OSError:
                    stop(None, None)
                    return
        threading.Thread(target=watch_parent, daemon=True).start()
    try:
        srv.serve_forever(poll_interval=0.1)
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
