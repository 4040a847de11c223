#!/usr/bin/env python3
"""Real-guest checks of the libvirt driver, through prlkit-cpf on a real libvirtd + QEMU.

Run by run.sh with the ids of two prepared domains:
  --tiny UUID   the tiny Linux guest (build-guest.sh): DHCP on the isolated network, qemu
                guest agent, ACPI power button; with a qcow2 disk in the test pool
  --gold UUID   a guest without an OS (it never shuts down by itself)
Prints TAP lines without numbers ("ok - ..."); run.sh numbers and counts them.

What it proves: DHCP-lease IPs, guest-agent IPs, a disk-only snapshot of a running guest,
a linked clone of that snapshot booting with its own IP, suspend (managed save) and resume,
a graceful stop completed by the guest, a graceful stop forced after force_stop_after, and
deletion that leaves no domain and no driver-made volume behind.
"""
import argparse
import json
import re
import subprocess
import sys
import time


class CpfError(Exception):
    pass


class Provider:
    """One prlkit-cpf process: JSON requests on its stdin, one reply line each."""

    def __init__(self, cpf, settings, log):
        self.proc = subprocess.Popen([cpf, "--driver", "libvirt"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=log, text=True)
        self.call("provider/initialize")
        self.call("provider/connect", {"settings": settings})

    def call(self, method, params=None):
        self.proc.stdin.write(json.dumps({"method": method, "params": params or {}}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise CpfError("prlkit-cpf exited")
        reply = json.loads(line)
        if "error" in reply:
            raise CpfError(reply["error"].get("message", str(reply["error"])))
        return reply["result"]

    def get(self, vm):
        return self.call("guests/get", {"id": vm})

    def control(self, vm, control):
        return self.call("guests/control", {"id": vm, "control": control})

    def task(self, task_id, timeout=180):
        end = time.monotonic() + timeout
        while True:
            t = self.call("tasks/get", {"id": task_id})
            if t["state"] != "running":
                if t["state"] != "completed":
                    raise CpfError("task failed: %s" % json.dumps(t.get("error")))
                return t.get("output", {})
            if time.monotonic() > end:
                raise CpfError("task still running after %d s" % timeout)
            time.sleep(0.3)

    def wait(self, vm, what, pred, timeout):
        """Polls guests/get until pred(guest) holds; the guest, or CpfError."""
        end = time.monotonic() + timeout
        g = None
        while time.monotonic() < end:
            g = self.get(vm)
            if pred(g):
                return g
            time.sleep(0.5)
        raise CpfError("%s: not reached in %d s (last: state %s, ips %s)" % (
            what, timeout, g and g["state"], g and g["ip_addresses"]))

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def virsh(*args):
    out = subprocess.run(["virsh", "-q", "-c", "qemu:///system"] + list(args),
                         capture_output=True, text=True, timeout=60)
    return out.stdout.strip()


def shutoff_reason(name):
    return virsh("domstate", "--reason", name)


def test_ips(v4):
    return [ip for ip in v4 if ip.startswith("10.231.77.")]


results = []


def check(desc, fn):
    """Runs fn; prints a TAP line. fn returns an optional detail string."""
    try:
        detail = fn()
        print("ok - %s" % desc)
        if detail:
            print("#   %s" % detail)
        results.append(True)
    except Exception as e:  # every failure is a test failure, never a crash of the run
        print("not ok - %s" % desc)
        for line in str(e).splitlines() or ["(no message)"]:
            print("#   %s" % line)
        results.append(False)
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpf", required=True)
    ap.add_argument("--tiny", required=True)
    ap.add_argument("--tiny-name", required=True)
    ap.add_argument("--gold", required=True)
    ap.add_argument("--gold-name", required=True)
    ap.add_argument("--pool", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    log = open(a.log, "a")
    base = {"driver": "libvirt", "uri": "qemu:///system", "storage_pool": a.pool,
            "stop_mode": "shutdown", "force_stop_after": "120"}
    lease = Provider(a.cpf, dict(base, ip_source="lease"), log)
    agent = Provider(a.cpf, dict(base, ip_source="agent"), log)
    forced = Provider(a.cpf, dict(base, force_stop_after="3"), log)
    state = {}

    def start_tiny():
        lease.control(a.tiny, "start")
        lease.wait(a.tiny, "powered_on", lambda g: g["state"] == "powered_on", 60)

    def lease_ips():
        g = lease.wait(a.tiny, "a DHCP lease IP", lambda g: test_ips(g["ip_addresses"]), 120)
        state["ip"] = test_ips(g["ip_addresses"])[0]
        leases = virsh("net-dhcp-leases", "prlkit-it")
        if state["ip"] not in leases:
            raise CpfError("%s is not in the network's leases:\n%s" % (state["ip"], leases))
        return "%s (MAC %s)" % (state["ip"], ",".join(g["mac_addresses"]))

    def agent_ips():
        g = agent.wait(a.tiny, "an agent IP", lambda g: test_ips(g["ip_addresses"]), 120)
        ips = g["ip_addresses"]
        if state.get("ip") and state["ip"] not in ips:
            raise CpfError("agent reports %s, the lease %s" % (ips, state["ip"]))
        if any(ip.startswith("127.") or ip == "::1" or ip.lower().startswith("fe80")
               for ip in ips):
            raise CpfError("loopback or link-local addresses reported: %s" % ips)
        return ", ".join(ips)

    def live_snapshot():
        out = lease.call("guests/snapshots/create", {"id": a.tiny, "name": "live-1"})
        lease.task(out["task_id"])
        if not lease.call("guests/snapshots/exists", {"id": a.tiny, "name": "live-1"}):
            raise CpfError("the snapshot does not exist")
        g = lease.get(a.tiny)
        if g["state"] != "powered_on":
            raise CpfError("the guest is %s after the snapshot" % g["state"])
        disks = virsh("domblklist", a.tiny_name)
        if "prlkit-" not in disks:
            raise CpfError("the running guest was not switched to a new overlay:\n" + disks)
        # the guest still works: its agent answers
        agent.wait(a.tiny, "an agent IP after the snapshot",
                   lambda g: test_ips(g["ip_addresses"]), 60)
        return disks.replace("\n", "; ")

    def linked_clone():
        out = lease.call("guests/clone", {"id": a.tiny, "name": "prlkit-it-clone-1",
                                          "snapshot": "live-1", "is_link_clone": True})
        done = lease.task(out["task_id"])
        cid = done.get("clone_id") or out.get("clone_id")
        state["clone"] = cid
        g = lease.get(cid)
        if g["is_template"] or g["state"] != "powered_off":
            raise CpfError("unexpected clone: %s" % json.dumps(g))
        lease.control(cid, "start")
        g = lease.wait(cid, "the clone's lease IP", lambda g: test_ips(g["ip_addresses"]), 120)
        ips = test_ips(g["ip_addresses"])
        if state.get("ip") in ips:
            raise CpfError("the clone has the source's IP %s" % state["ip"])
        return "clone %s: %s" % (cid, ", ".join(ips))

    def delete_clone():
        cid = state["clone"]
        lease.control(cid, "stop")
        lease.wait(cid, "the clone powered off", lambda g: g["state"] == "powered_off", 60)
        lease.control(cid, "delete")
        end = time.monotonic() + 60
        while cid in lease.call("guests/list")["guests"]:
            if time.monotonic() > end:
                raise CpfError("the clone is still listed")
            time.sleep(0.5)

    def suspend_resume():
        lease.control(a.tiny, "suspend")
        lease.wait(a.tiny, "suspended", lambda g: g["state"] == "suspended", 60)
        reason = shutoff_reason(a.tiny_name)
        if "saved" not in reason:
            raise CpfError("libvirt says: %s" % reason)
        lease.control(a.tiny, "start")
        lease.wait(a.tiny, "powered_on", lambda g: g["state"] == "powered_on", 60)
        agent.wait(a.tiny, "the agent after the restore",
                   lambda g: test_ips(g["ip_addresses"]), 60)
        return reason

    def graceful_stop():
        lease.control(a.tiny, "stop")
        # force_stop_after is 120 s: powered off before that is the guest's own doing
        lease.wait(a.tiny, "powered_off", lambda g: g["state"] == "powered_off", 100)
        reason = shutoff_reason(a.tiny_name)
        if "(shutdown)" not in reason:
            raise CpfError("libvirt says: %s (expected a guest shutdown)" % reason)
        return reason

    def forced_stop():
        forced.control(a.gold, "start")
        forced.wait(a.gold, "powered_on", lambda g: g["state"] == "powered_on", 60)
        forced.control(a.gold, "stop")
        forced.wait(a.gold, "powered_off", lambda g: g["state"] == "powered_off", 60)
        reason = shutoff_reason(a.gold_name)
        if "(destroyed)" not in reason:
            raise CpfError("libvirt says: %s (expected a forced stop)" % reason)
        return reason

    def revert_and_delete_snapshot():
        out = lease.call("guests/snapshots/revert", {"id": a.tiny, "name": "live-1"})
        lease.task(out["task_id"])
        out = lease.call("guests/snapshots/delete", {"id": a.tiny, "name": "live-1"})
        lease.task(out["task_id"])
        if lease.call("guests/snapshots/exists", {"id": a.tiny, "name": "live-1"}):
            raise CpfError("the snapshot still exists")

    def delete_all():
        for vm in (a.tiny, a.gold):
            lease.control(vm, "delete")
        left = lease.call("guests/list")["guests"]
        if a.tiny in left or a.gold in left:
            raise CpfError("still listed: %s" % left)
        vols = virsh("vol-list", a.pool)
        # driver-made volumes are named prlkit-<owner UUID>-<random>.qcow2
        ours = [l for l in vols.splitlines()
                if re.match(r"\s*prlkit-[0-9a-f]{8}-[0-9a-f]{4}-", l)]
        if ours:
            raise CpfError("driver-made volumes left:\n" + "\n".join(ours))
        doms = [d for d in virsh("list", "--all", "--name").splitlines()
                if d.startswith(("prlkit-it-", "cpf-check-"))]
        if doms:
            raise CpfError("domains left: %s" % doms)
        return "pool now: " + "; ".join(vols.splitlines())

    check("start the tiny guest (powered_on)", start_tiny)
    check("IPs from DHCP leases (ip_source=lease)", lease_ips)
    check("IPs from the guest agent (ip_source=agent)", agent_ips)
    check("snapshot of a running guest (disk-only, new qcow2 overlay live)", live_snapshot)
    check("linked clone of that snapshot boots with its own IP", linked_clone)
    check("graceful stop and delete of the clone", delete_clone)
    check("suspend (managed save) and start again", suspend_resume)
    check("graceful stop: the guest powers itself off", graceful_stop)
    check("graceful stop of a guest without an OS is forced after force_stop_after",
          forced_stop)
    check("revert to and delete the snapshot", revert_and_delete_snapshot)
    check("delete both guests: no domain and no driver-made volume left", delete_all)
    for p in (lease, agent, forced):
        p.close()
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
