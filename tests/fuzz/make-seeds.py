#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/<name>) and
their dictionaries (tests/fuzz/dict/<target>.dict). The output is committed; re-run this
after changing a seed:  python3 tests/fuzz/make-seeds.py

Seeds are small, valid-looking inputs that reach each target's interesting paths; the
fuzzer mutates from there. Field separator of the structured targets: 0xFF."""

import base64
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SEP = b"\xff"

TEMPLATE = "5efc9fc5-3fd4-5db0-ad1c-922b9b86deeb"     # win11-gold, seeded by sim
RUNNING = "35ff49da-7124-5749-a0c3-262ee1abf4db"      # rds-host-01
STOPPED = "8fa8fdf3-0279-5162-ab22-b4ed05ac0cc1"      # win10-legacy


def req(method, **params):
    r = {"method": method}
    if params:
        r["params"] = params
    return json.dumps(r, separators=(",", ":")).encode()


def lines(*reqs):
    return b"\n".join(reqs) + b"\n"


CONNECT = req("provider/connect", settings={"driver": "sim", "speed": "0"})


def task_id(obj):
    raw = json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()
    return "pk1." + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cpf_seeds():
    s = {}
    s["init-connect-list-get"] = lines(
        req("provider/initialize"), CONNECT, req("guests/list"),
        req("guests/get", id=TEMPLATE), req("guests/get", id=[RUNNING]),
        req("hosts/get", id=STOPPED))
    s["create-template"] = lines(
        CONNECT, req("guests/get", id=STOPPED),
        req("guests/control", id=STOPPED, control="stop"),
        req("guests/snapshots/create", id=STOPPED, name="RAS_TEMPLATE_VERSION_1"),
        req("guests/convert", id=STOPPED, is_template=True),
        req("guests/get", id=STOPPED))
    s["create-host"] = lines(
        CONNECT,
        req("guests/clone", id=TEMPLATE, name="rds-host-09", snapshot="RAS_TEMPLATE_VERSION_1"),
        req("guests/clone", id=TEMPLATE, name="rds-host-10", snapshot=None, is_link_clone="false"),
        req("tasks/get", id=task_id({"d": "sim", "o": 1, "r": "sim-task-1"})),
        req("guests/control", id=RUNNING, control="restart"),
        req("guests/control", id=RUNNING, control="suspend"),
        req("guests/control", id=RUNNING, control="start"))
    s["maintenance"] = lines(
        CONNECT, req("guests/convert", id=TEMPLATE, is_template="false"),
        req("guests/snapshots/revert", id=TEMPLATE, name="RAS_TEMPLATE_VERSION_1"),
        req("guests/control", id=TEMPLATE, control="start"),
        req("guests/control", id=TEMPLATE, control="stop"),
        req("guests/snapshots/exists", id=TEMPLATE, name="RAS_TEMPLATE_VERSION_1"),
        req("guests/snapshots/delete", id=TEMPLATE, name="RAS_TEMPLATE_VERSION_1"),
        req("guests/snapshots/create", id=TEMPLATE, name="RAS_TEMPLATE_VERSION_2"),
        req("guests/snapshots/create", id=TEMPLATE, name="RAS_TEMPLATE_VERSION_2"),
        req("guests/convert", id=TEMPLATE, is_template=True))
    s["delete-reset"] = lines(
        CONNECT, req("guests/control", id=STOPPED, control="delete"),
        req("guests/get", id=STOPPED), req("guests/control", id=RUNNING, control="reset"),
        req("guests/control", id=RUNNING, control="reboot"),
        req("guests/control", id=RUNNING, control="hibernate"))
    s["framing"] = (b"\xef\xbb\xbf" + req("provider/initialize") + b"\r\n" + b"\n" + b"   \t\n" +
                    b"{\"method\":\"Guests/List\"}\n" + b"[1,2,3]\n" + b"{\"method\":42}\n" +
                    b"{\"params\":{}}\n" + b"{\"method\":\"no/such\"}\n" + b"{bad json\n" +
                    b"{\"method\":\"guests/list\",\"params\":[]}\n" + b"\xc3\x28\n" +
                    b"[" * 70 + b"]" * 70 + b"\n" + b"{\"method\":\"provider/initialize\"}")
    s["connect-settings"] = lines(
        req("provider/connect", settings={"driver": "sim", "guests_polling_rate": "2",
                                          "tasks_polling_rate": 99, "tasks_polling_retries": "x",
                                          "wait_timeout": "7", "log_level": "debug",
                                          "seed": "default+5", "fail": "start:once,*:50%"}),
        req("provider/connect", settings={"password": "hunter2-secret", "token_secret": "t0k3n-s3cr3t",
                                          "fail": "connect:PRL_ERR_ACCESS_DENIED"}),
        req("provider/connect", settings=[]), req("provider/connect"),
        req("provider/connect", settings={"wait_timeout": 0}),
        CONNECT, req("provider/disconnect"), req("guests/list"), CONNECT,
        req("guests/list"))
    s["fail-injection"] = lines(
        req("provider/connect", settings={"fail": "clone:PRL_ERR_OPERATION_FAILED,get:after=2,"
                                                  "snapshot-create:once,task:50%"}),
        req("guests/clone", id=TEMPLATE, name="x"), req("guests/get", id=TEMPLATE),
        req("guests/get", id=TEMPLATE), req("guests/get", id=TEMPLATE),
        req("guests/snapshots/create", id=RUNNING, name="s1"),
        req("guests/snapshots/create", id=RUNNING, name="s1"))
    s["bad-params"] = lines(
        CONNECT, req("guests/get"), req("guests/get", id=""), req("guests/get", id=5),
        req("guests/get", id=["a", "b"]), req("guests/control", id=RUNNING, control="explode"),
        req("guests/clone", id=TEMPLATE), req("guests/clone", id=TEMPLATE, name="   "),
        req("guests/convert", id=RUNNING, is_template="maybe"),
        req("guests/snapshots/revert", id=RUNNING, name="nope"),
        req("tasks/get", id="garbage"), req("tasks/get", id="pk1.!!!"),
        req("tasks/get", id="pk9.e30"), req("tasks/get", id=task_id({"d": "pve", "r": "UPID:x"})),
        req("tasks/get", id=task_id({"d": "sim", "o": 5, "x": {"c": -2147483627, "m": "boom"}})),
        req("guests/get", id="no-such-guest"))
    s["pipelined-gets"] = lines(CONNECT, *[req("guests/get", id=i) for i in
                                           (TEMPLATE, RUNNING, STOPPED, "nope", RUNNING)])
    return s


def settings_seeds():
    j = lambda o: b"\x00" + json.dumps(o).encode()
    q = lambda t: b"\x01" + t.encode()
    return {
        "sim": j({"driver": "sim", "state_dir": "/tmp/x", "speed": "0.5", "seed": "default+10",
                  "fail": "start:once,stop:50%,*:after=3:PRL_ERR_TIMEOUT", "fsync": "yes"}),
        "pve-token": j({"driver": "pve", "host": "pve1.example:8006", "username": "root@pam",
                        "token_name": "automation", "token_secret": "6f1e0c2a-53a4-4bd5",
                        "node": "pve1", "template_mode": "native", "full_clone": "true",
                        "stop_mode": "stop", "force_stop_after": "30", "request_timeout": "2.5",
                        "tls_fingerprint": "AB:" * 31 + "CD", "max_parallel": 8}),
        "pve-password": j({"host": "https://[::1]:8006", "user": "root", "realm": "pve",
                           "password": "hunter2-is-long", "suspend_mode": "pause",
                           "insecure_skip_verify": True, "inventory_cache_ms": 1e3,
                           "lock_wait": None}),
        "types": j({"a": 1, "b": -2.5e3, "c": True, "d": False, "e": None, "f": "",
                    "g": "  30.0 ", "h": "3e1", "i": "nan", "j": "inf", "k": "9223372036854775807"}),
        "nested": j({"a": {"b": 1}}),
        "not-object": b"\x00[1,2]",
        "query": q("?speed=0&state_dir=%2Ftmp%2Fa+b&verbose&password=p%40ss&=x"),
        "query-bad": q("a=%zz&b=%"),
    }


def taskid_seeds():
    dec = lambda t: b"\x00" + t.encode()
    s = {
        "sim-running": dec(task_id({"d": "sim", "c": "sim:///default", "o": 1, "v": TEMPLATE,
                                    "r": "sim-task-12", "t": "new-vm"})),
        "finished-failed": dec(task_id({"d": "pve", "o": 5, "x": {"c": -2147483627, "m": "timeout"}})),
        "finished-ok": dec(task_id({"d": "", "o": 0, "x": {"c": 0}})),
        "bad-version": dec("pk2.e30"),
        "bad-base64": dec("pk1.@@@"),
        "not-object": dec("pk1." + base64.urlsafe_b64encode(b"[1]").decode().rstrip("=")),
    }
    enc = lambda flags, op, code, *fields: (b"\x01" + bytes([flags]) + struct.pack("<Ii", op, code)
                                            + SEP.join(f.encode() if isinstance(f, str) else f
                                                       for f in fields))
    s["encode-ref"] = enc(2 | 4 | 8 | 16, 7, 0, "pve", "pve://pve1:8006", "101",
                          "pve1:clone:101:UPID:pve1:0001:", "102")
    s["encode-message"] = enc(1 | 32, 5, -2147483627, "libvirt", "", "", "", "",
                              b"error: line one\nline two\ttab password=hunter22 \xc3\x28")
    return s


def uri_seeds():
    u = lambda t, settings=None: t.encode() + (SEP + json.dumps(settings).encode()
                                               if settings is not None else b"")
    return {
        "sim": u("sim:///tmp/state?speed=0&seed=empty"),
        "sim-relative": u("sim://relative/dir"),
        "pve": u("pve://root%40pam:hunter22@pve1.example:8006/?node=pve1&token_name=x"),
        "libvirt": u("libvirt+qemu:///system"),
        "qemu": u("qemu+ssh://user@host/system?keyfile=/k"),
        "driver-name": u("pve", {"host": "h", "password": "hunter22"}),
        "settings-uri": u("", {"uri": "sim:///x", "driver": "sim"}),
        "bad": u("sim://[::1/%zz"),
        "unknown": u("nosuch://host"),
        "control": u("sim:///a%0Ab%09c"),
    }


def pve_seeds():
    inv = [{"type": "qemu", "vmid": 101, "node": "pve1", "name": "win11-gold", "status": "stopped",
            "template": 1, "tags": "ras-template;x", "maxmem": 4294967296, "maxcpu": 4},
           {"type": "qemu", "vmid": "102", "node": "pve2", "status": "running", "lock": "clone",
            "uptime": 30},
           {"type": "lxc", "vmid": 200, "node": "pve1"}, {"type": "storage", "id": "local"},
           {"type": "qemu", "vmid": 99, "node": "x"}]
    conf = {"name": "vm", "memory": "current=2048", "cores": "4", "sockets": 2, "ostype": "win11",
            "agent": "enabled=1,fstrim_cloned_disks=1", "digest": "abc",
            "net0": "virtio=bc:24:11:8a:3c:ff,bridge=vmbr0,firewall=1", "net1": "e1000=zz",
            "scsi0": "local-lvm:vm-101-disk-0,size=32G", "ide2": "none,media=cdrom",
            "virtio3": "local:iso/x.iso,size=1048576K", "sata0": "none", "description": "d"}
    ips = {"result": [{"name": "lo", "ip-addresses": [{"ip-address": "127.0.0.1"}]},
                      {"name": "eth0", "hardware-address": "bc:24:11:8a:3c:ff",
                       "ip-addresses": [{"ip-address": "10.0.10.25", "prefix": 24},
                                        {"ip-address": "fe80::1"}, {"ip-address": "fd00::25"},
                                        {"ip-address": "10.0.10.25"}]}]}
    j = lambda b, o: bytes([b]) + json.dumps(o).encode()
    f = lambda b, *fields: bytes([b]) + SEP.join(x.encode() for x in fields)
    return {
        "inventory": j(0, inv), "vmconf": j(1, conf), "agent-ips": j(2, ips),
        "words": f(3, "running", "paused", "suspended", "win10", "101",
                   "UPID:pve1:00001234:0000ABCD:65A1B2C3:qmclone:101:root@pam:", "WARNINGS: 2",
                   "VM 101 is locked (clone)"),
        "snapname": f(4, "RAS Template Snapshot", "x-RAS-20Template", "keep me\nline 2"),
        "snapname-valid": f(4, "RAS_TEMPLATE_VERSION_1", "current", ""),
        "tags": f(5, "a;b,c d;ras-template", "ras-template"),
    }


def snapxml_seeds():
    def rec(flags, parent, created, name, desc):
        return bytes([flags, parent]) + struct.pack("<I", created) + name + SEP + desc + SEP
    return {
        "chain": rec(4, 0, 1700000000, b"base", b"first") + rec(6, 0, 1700000100, b"v2", b"") +
                 rec(7, 1, 0, b"v3 <&\"'>", b"multi\nline\r\ndesc\t"),
        "forest": rec(4, 0, 0, b"a", b"") + rec(4, 0, 0, b"b", b"") + rec(6, 1, 0, b"c", b"") +
                  rec(6, 0, 0, b"a", b"dup name") + rec(12, 0, 0, b"orphan", b""),
        "odd-bytes": rec(4, 0, 1, b"\x01\x02\x7f", b"\xc3\x28\xf0") + rec(0, 0, 4000000000, b"", b""),
    }


DICTS = {
    "cpf": ['"method"', '"params"', '"settings"', '"id"', '"name"', '"control"', '"snapshot"',
            '"is_template"', '"is_link_clone"', '"provider/initialize"', '"provider/connect"',
            '"provider/disconnect"', '"guests/list"', '"guests/get"', '"guests/control"',
            '"guests/convert"', '"guests/clone"', '"guests/snapshots/create"',
            '"guests/snapshots/delete"', '"guests/snapshots/exists"',
            '"guests/snapshots/revert"', '"tasks/get"', '"hosts/list"', '"start"', '"stop"',
            '"reset"', '"restart"', '"suspend"', '"delete"', '"reboot"', '"fail"', '"seed"',
            '"wait_timeout"', '"log_level"', '"password"', '"pk1."', '"' + TEMPLATE + '"',
            '"' + RUNNING + '"', '"' + STOPPED + '"', '"RAS_TEMPLATE_VERSION_1"', '"true"',
            '"false"', '"null"', '"\\xef\\xbb\\xbf"', '"\\x0d\\x0a"', '"PRL_ERR_TIMEOUT"',
            '"once"', '"after="'],
    "settings": ['"driver"', '"speed"', '"seed"', '"fail"', '"host"', '"username"',
                 '"token_name"', '"token_secret"', '"password"', '"template_mode"', '"native"',
                 '"stop_mode"', '"tls_fingerprint"', '"request_timeout"', '"default+"',
                 '"PRL_ERR_"', '"%"', '"after="', '"true"', '"false"'],
    "uri": ['"sim://"', '"pve://"', '"libvirt+qemu://"', '"qemu:///system"', '"test:///default"',
            '"@"', '"%"', '"?"', '"&"', '"#"', '"[::1]"', '"\\xff"', '"{\\"uri\\":\\""',
            '"\\"driver\\""'],
    "pve": ['"\\"type\\":\\"qemu\\""', '"\\"vmid\\""', '"\\"node\\""', '"\\"lock\\""',
            '"\\"template\\""', '"\\"tags\\""', '"net0"', '"scsi0"', '"virtio="', '"size="',
            '"media=cdrom"', '"current="', '"\\"ip-addresses\\""', '"\\"ip-address\\""',
            '"UPID:"', '"x-"', '"\\xff"'],
}


def write_dir(path, files):
    os.makedirs(path, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(path, name), "wb") as f:
            f.write(data)


def main():
    for target, fn in (("cpf", cpf_seeds), ("settings", settings_seeds), ("taskid", taskid_seeds),
                       ("uri", uri_seeds), ("pve", pve_seeds), ("snapxml", snapxml_seeds)):
        write_dir(os.path.join(HERE, "corpus", target), fn())
    os.makedirs(os.path.join(HERE, "dict"), exist_ok=True)
    for target, words in DICTS.items():
        with open(os.path.join(HERE, "dict", target + ".dict"), "w") as f:
            f.write("# libFuzzer dictionary for fuzz-%s (written by make-seeds.py)\n" % target)
            f.write("".join(w + "\n" for w in words))
    return 0


if __name__ == "__main__":
    sys.exit(main())
