#!/usr/bin/env python3
"""Fault matrix of the libvirt driver against a real libvirtd (QEMU), through one
long-lived prlkit-cpf process, as RAS runs it:

  unreachable         libvirtd stopped
  killed mid-request  libvirtd SIGKILLed while it holds a request (it was SIGSTOPped first)
  slow                libvirtd stopped (SIGSTOP) beyond prlkit-cpf's wait_timeout

Each must give a clean error reply within the configured bound ("connection lost" when
libvirtd is gone, never "guest not found"), further requests during the outage too, and the
same process must work again once libvirtd is back, by itself (the driver reconnects; at
most one attempt a second, so recovery may take up to RECOVER_BOUND). Domain lifecycle
events keep flowing after the restarts: a second process (this script run with --events)
holds a prlkit connection with an event handler and reports what it receives, while this
script defines and undefines a domain. (5xx storms and expired credentials have no
equivalent on libvirt's local socket; doc/reliability.md says so.)

libvirtd comes from tests/integration/libvirt/setup.sh (run here; teardown.sh after), and
small domains without disks are defined for the test. Skips cleanly unless root, libvirtd
is installed and prlkit-cpf has the libvirt driver. TAP; "# fault: ..." lines carry the
measurements."""

import ctypes
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("top_srcdir") or os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "cpf"))
from cpfharness import Provider, Tap, provider_path  # noqa: E402

SETUP = os.path.join(SRCDIR, "tests", "integration", "libvirt", "setup.sh")
TEARDOWN = os.path.join(SRCDIR, "tests", "integration", "libvirt", "teardown.sh")
URI = "qemu:///system"
DOMAIN = "prlkit-it-faults"      # teardown.sh removes prlkit-it-* leftovers
EV_DOMAIN = "prlkit-it-faults-ev"
WAIT_TIMEOUT = 6.0
BOUND = WAIT_TIMEOUT + 3.0
# The driver tries to reconnect at most once a second (LV_RECONNECT_INTERVAL_MS); requests
# in between fail at once. Recovery must come within this many seconds of libvirtd's return.
RECOVER_BOUND = 3.0
# The event process has no requests to trigger a reconnect: its watcher reconnects, after
# 1, 2, 4, 8, ... s (up to 30 s) while libvirtd is away.
EVENTS_BOUND = 45.0
DOMAIN_XML = """<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>"""
PET_DSP_EVT_VM_ADDED = 100005
PET_DSP_EVT_VM_DELETED = 100006
PHT_EVENT = 0x10000012


def sh(*cmd, check=True, timeout=180):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=check, timeout=timeout)


def virsh(*args, check=True):
    return sh("virsh", "-q", "-c", URI, *args, check=check)


def libvirtd_pid():
    # root's: tests/drivers/test-libvirt-reconnect runs private ones as nobody
    r = sh("pgrep", "-u", "0", "-x", "libvirtd", check=False)
    pids = [int(p) for p in r.stdout.split()]
    return pids[0] if pids else None


def start_libvirtd(log):
    r = subprocess.run(["bash", SETUP], stdout=log, stderr=log, timeout=600)
    return r.returncode == 0


def timed(p, method, params=None):
    t0 = time.monotonic()
    r = p.call(method, params)
    return r, time.monotonic() - t0


def lost_cleanly(r, dt):
    """A clean error for a libvirtd that is gone: in time, saying so, not 'not found'."""
    msg = r.get("error", {}).get("message", "")
    return ("error" in r and dt < BOUND and "VM_UUID_NOT_FOUND" not in msg and
            "connection lost" in msg)


# ---------------------------------------------------------------- events process ----

def libprlkit():
    top = os.environ.get("top_builddir")
    for cand in ([os.path.join(top, ".libs", "libprlkit.so")] if top else []):
        if os.path.exists(cand):
            return cand
    return "libprlkit.so.1"


def events_main(uri):
    """--events URI: a prlkit connection with an event handler; prints "ready", then one
    line "event <type> <issuer id>" per event, until stdin closes."""
    lib = ctypes.CDLL(libprlkit())
    H = ctypes.c_void_p
    i32, u32 = ctypes.c_int32, ctypes.c_uint32
    handler_t = ctypes.CFUNCTYPE(i32, H, ctypes.c_void_p)
    sigs = {
        "PrlApi_InitEx": ([u32, u32, u32, u32], i32),
        "PrlApi_Deinit": ([], i32),
        "PrlSrv_Create": ([ctypes.POINTER(H)], i32),
        "PrlSrv_Connect": ([H, ctypes.c_char_p, ctypes.c_char_p, u32], H),
        "PrlSrv_Logoff": ([H], H),
        "PrlSrv_RegEventHandler": ([H, handler_t, ctypes.c_void_p], i32),
        "PrlSrv_UnregEventHandler": ([H, handler_t, ctypes.c_void_p], i32),
        "PrlJob_Wait": ([H, u32], i32),
        "PrlJob_GetRetCode": ([H, ctypes.POINTER(i32)], i32),
        "PrlHandle_Free": ([H], i32),
        "PrlHandle_GetType": ([H, ctypes.POINTER(i32)], i32),
        "PrlEvent_GetType": ([H, ctypes.POINTER(i32)], i32),
        "PrlEvent_GetIssuerId": ([H, ctypes.c_char_p, ctypes.POINTER(u32)], i32),
    }
    for name, (args, res) in sigs.items():
        getattr(lib, name).argtypes = args
        getattr(lib, name).restype = res

    def wait(job):
        rc = i32(-1)
        lib.PrlJob_Wait(job, 60000)
        lib.PrlJob_GetRetCode(job, ctypes.byref(rc))
        lib.PrlHandle_Free(job)
        return rc.value

    def on_event(h, data):
        kind, et = i32(0), i32(0)
        buf = ctypes.create_string_buffer(128)
        n = u32(len(buf))
        lib.PrlHandle_GetType(h, ctypes.byref(kind))
        if kind.value == PHT_EVENT and lib.PrlEvent_GetType(h, ctypes.byref(et)) >= 0:
            lib.PrlEvent_GetIssuerId(h, buf, ctypes.byref(n))
            print("event %d %s" % (et.value, buf.value.decode()), flush=True)
        lib.PrlHandle_Free(h)
        return 0

    handler = handler_t(on_event)
    if lib.PrlApi_InitEx(0x00090000, 0, 0, 0) < 0:
        print("error PrlApi_InitEx", flush=True)
        return 1
    srv = H()
    lib.PrlSrv_Create(ctypes.byref(srv))
    rc = wait(lib.PrlSrv_Connect(srv, uri.encode(), None, 0))
    if rc < 0:
        print("error connect %d" % rc, flush=True)
        return 1
    lib.PrlSrv_RegEventHandler(srv, handler, None)
    print("ready", flush=True)
    sys.stdin.read()
    lib.PrlSrv_UnregEventHandler(srv, handler, None)
    wait(lib.PrlSrv_Logoff(srv))
    lib.PrlHandle_Free(srv)
    lib.PrlApi_Deinit()
    return 0


class Events:
    """The --events process and the lines it printed."""

    def __init__(self, work):
        self.log = open(os.path.join(work, "libvirt-faults-events.log"), "w")
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--events",
                                      URI], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log)
        self.buf = b""
        self.lines = []

    def read(self, timeout):
        """The next line within timeout, else None. Unbuffered: select() must see what
        is not read yet."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            r, _, _ = select.select([self.proc.stdout], [], [], max(left, 0))
            if not r:
                return None
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        line = line.decode(errors="replace").strip()
        self.lines.append(line)
        return line

    def wait_for(self, want, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.read(deadline - time.monotonic())
            if line is None:
                if self.proc.poll() is not None:
                    return False
                continue
            if line == want:
                return True
        return False

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except Exception:
            self.proc.kill()
            self.proc.wait()


def define_ev_domain(work):
    xml = os.path.join(work, EV_DOMAIN + ".xml")
    with open(xml, "w") as f:
        f.write(DOMAIN_XML % EV_DOMAIN)
    virsh("define", xml)
    return virsh("domuuid", EV_DOMAIN).stdout.strip()


def events_flow(events, work, timeout):
    """Defines and undefines a domain until the event process reports both (the first
    defines may come before its connection is back). Seconds it took, or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        virsh("undefine", EV_DOMAIN, check=False)
        uuid = define_ev_domain(work)
        added = events.wait_for("event %d %s" % (PET_DSP_EVT_VM_ADDED, uuid), 2.0)
        virsh("undefine", EV_DOMAIN, check=False)
        if added and events.wait_for("event %d %s" % (PET_DSP_EVT_VM_DELETED, uuid), 10.0):
            return time.monotonic() - t0
    return None


# ---------------------------------------------------------------------- main ----

def main():
    tap = Tap()
    why = None
    if os.geteuid() != 0:
        why = "needs root (starts and stops libvirtd)"
    elif shutil.which("libvirtd") is None or shutil.which("virsh") is None:
        why = "libvirtd is not installed (tests/integration/libvirt/setup.sh installs it)"
    else:
        try:
            provider_path()
        except RuntimeError as e:
            why = str(e)
    if why:
        tap.skip("libvirt fault matrix", why)
        return tap.done()
    work = os.environ.get("PRLKIT_TEST_TMPDIR") or "/tmp"
    log = open(os.path.join(work, "libvirt-faults-setup.log"), "a")
    was_running = libvirtd_pid() is not None
    if not tap.ok(start_libvirtd(log), "libvirtd runs (tests/integration/libvirt/setup.sh)"):
        return tap.done()
    xml = os.path.join(work, DOMAIN + ".xml")
    with open(xml, "w") as f:
        f.write(DOMAIN_XML % DOMAIN)
    virsh("undefine", DOMAIN, check=False)
    virsh("undefine", EV_DOMAIN, check=False)
    virsh("define", xml)
    results = []
    p = Provider(args=["--driver", "libvirt"])
    events = None
    settings = {"driver": "libvirt", "uri": URI, "storage_pool": "prlkit-it",
                "network": "prlkit-it", "wait_timeout": str(WAIT_TIMEOUT)}
    try:
        r = p.connect(settings)
        if not tap.ok("result" in r, "prlkit-cpf connects to libvirtd", r):
            return tap.done()
        guests = p.result("guests/list")["guests"]
        vm = next((g for g in guests
                   if p.result("guests/get", {"id": g}).get("name") == DOMAIN), None)
        if not tap.ok(vm is not None, "the test domain is listed"):
            return tap.done()

        events = Events(work)
        ready = events.wait_for("ready", 60)
        tap.ok(ready, "an event handler is connected in a second process", events.lines)
        dt = events_flow(events, work, 20) if ready else None
        tap.ok(dt is not None, "events: defining and undefining a domain are reported",
               events.lines[-6:])

        def recover(method, params):
            """Requests until one succeeds (within RECOVER_BOUND): seconds and failures."""
            t0 = time.monotonic()
            failed = 0
            while True:
                r = p.call(method, params)
                dt = time.monotonic() - t0
                if "result" in r or dt > RECOVER_BOUND:
                    return r, dt, failed
                failed += 1
                time.sleep(0.1)

        def case(name, method, params, inject, heal, gone=True, during=None):
            inject()
            r, dt = timed(p, method, params)
            msg = r.get("error", {}).get("message", "")
            # A platform that is gone is not a guest that is gone: RAS would drop the host.
            if gone:
                ok1 = tap.ok(lost_cleanly(r, dt), "%s: %s says 'connection lost' in %.2f s "
                             "(bound %.0f s), not 'guest not found'" % (name, method, dt,
                                                                       BOUND), r)
            else:
                ok1 = tap.ok("error" in r and dt < BOUND and "VM_UUID_NOT_FOUND" not in msg,
                             "%s: %s gives a clean error in %.2f s (bound %.0f s), not "
                             "'guest not found'" % (name, method, dt, BOUND), r)
            for m, prm in during or []:
                rd, dtd = timed(p, m, prm)
                ok1 = tap.ok(lost_cleanly(rd, dtd), "%s: then %s says 'connection lost' in "
                             "%.2f s" % (name, m if m != "guests/control" else
                                         "guests/control " + prm["control"], dtd),
                             rd) and ok1
            heal()
            # libvirtd is back: the same process works again, by itself.
            r2, dt2, failed = recover(method, params)
            ok2 = tap.ok("result" in r2, "%s: the same process recovers when libvirtd is back"
                         " (%.2f s, %d request(s) failed meanwhile; bound %.0f s)" %
                         (name, dt2, failed, RECOVER_BOUND), r2)
            tap.diag("fault: %s | %s | error after %.2f s | %s | recovered: %s" %
                     (name, method, dt, msg[:200], "yes, after %.2f s" % dt2 if ok2 else "NO"))
            results.append({"fault": name, "request": method, "seconds": round(dt, 2),
                            "message": msg, "recovered_after": round(dt2, 2) if ok2 else None,
                            "ok": ok1 and ok2})

        def stop():
            pid = libvirtd_pid()
            if pid:
                os.kill(pid, signal.SIGTERM)
                for _ in range(100):
                    if libvirtd_pid() is None:
                        break
                    time.sleep(0.1)

        case("unreachable (libvirtd stopped)", "guests/list", None, stop,
             lambda: start_libvirtd(log),
             during=[("guests/list", None), ("guests/get", {"id": vm}),
                     ("guests/control", {"id": vm, "control": "start"})])

        # The event process made no request: its watcher reconnected on its own.
        dt = events_flow(events, work, EVENTS_BOUND) if ready else None
        tap.ok(dt is not None, "events: still reported after libvirtd's restart (%s)" %
               ("%.1f s after it was back" % dt if dt is not None else "none within %.0f s"
                % EVENTS_BOUND), events.lines[-6:])
        results.append({"fault": "events after restart", "seconds": round(dt, 2)
                        if dt is not None else None, "ok": dt is not None})

        # libvirtd down when (re)connecting: a clean error, then a connect that works.
        stop()
        r, dt = timed(p, "provider/connect", {"settings": settings})
        tap.ok("error" in r and dt < BOUND, "unreachable at connect: a clean error in %.2f s"
               % dt, r)
        start_libvirtd(log)
        r2, dt2 = timed(p, "provider/connect", {"settings": settings})
        tap.ok("result" in r2, "unreachable at connect: the next connect works (%.2f s)" % dt2,
               r2)
        tap.diag("fault: unreachable at connect | provider/connect | error after %.2f s | %s"
                 " | recovered: %s" % (dt, r.get("error", {}).get("message", "")[:200],
                                       "yes" if "result" in r2 else "NO"))

        def freeze():
            os.kill(libvirtd_pid(), signal.SIGSTOP)

        def thaw():
            os.kill(libvirtd_pid(), signal.SIGCONT)
        case("slow beyond wait_timeout (libvirtd stopped by SIGSTOP)", "guests/get", {"id": vm},
             freeze, thaw, gone=False)

        # The request reaches libvirtd, which dies holding it: the read is tried once more
        # on a new connection, which cannot be opened.
        def kill_mid_request():
            pid = libvirtd_pid()
            os.kill(pid, signal.SIGSTOP)
            subprocess.Popen(["sh", "-c", "sleep 1; kill -KILL %d; kill -CONT %d" % (pid, pid)])
        case("killed mid-request (SIGKILL)", "guests/get", {"id": vm}, kill_mid_request,
             lambda: (time.sleep(1.5), start_libvirtd(log)),
             during=[("guests/list", None)])

        dt = events_flow(events, work, EVENTS_BOUND) if ready else None
        tap.ok(dt is not None, "events: still reported after libvirtd was killed (%s)" %
               ("%.1f s after it was back" % dt if dt is not None else "none within %.0f s"
                % EVENTS_BOUND), events.lines[-6:])
    finally:
        if events is not None:
            events.close()
        try:
            p.proc.stdin.close()
            p.proc.wait(timeout=30)
        except Exception:
            p.proc.kill()
        if libvirtd_pid() is None:
            start_libvirtd(log)
        virsh("undefine", DOMAIN, check=False)
        virsh("undefine", EV_DOMAIN, check=False)
        if not was_running and os.path.exists(TEARDOWN):
            subprocess.run(["bash", TEARDOWN], stdout=log, stderr=log, timeout=300)
    print("FAULT-FIGURES " + json.dumps(results))
    return tap.done()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--events"] and len(sys.argv) == 3:
        sys.exit(events_main(sys.argv[2]))
    sys.exit(main())
