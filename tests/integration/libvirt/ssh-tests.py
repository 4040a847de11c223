#!/usr/bin/env python3
"""The libvirt driver over a remote qemu+ssh:// URI, through prlkit-cpf, on a real libvirtd.

Run by run.sh after cpf-check's local workflows and before guest-tests.py deletes the gold
domain:
  --cpf PATH --cpf-check PATH    the programs under test
  --gold UUID --gold-name NAME   a powered-off guest without an OS
  --pool POOL                    the test storage pool
  --state DIR                    setup.sh's state directory (root-owned, 0755)
  --log FILE                     where the providers' stderr goes
Prints TAP lines without numbers ("ok - ..."); run.sh numbers and counts them.

The "remote" host is this machine, reached through a private sshd on 127.0.0.1 and a free
port, with its own host key and configuration, root login by key only, in a 0700 directory
under --state (root-owned up to /, so StrictModes stays on). The client side never reads
root's ~/.ssh: the URI's `command=` runs OpenSSH with `-F` and the test's own client
configuration, whose known_hosts holds the host key derived from the private host key (for
the ssh transport libvirt passes keyfile, no_tty and no_verify on to ssh, but not
known_hosts, which only its libssh and libssh2 transports read). The sshd, its sessions and
its directory are removed at the end; teardown.sh removes them after an interrupted run
($STATE/sshd.pid, $STATE/sshd.dir).
"""
import argparse
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SSHD = "/usr/sbin/sshd"   # sshd re-executes itself: it needs an absolute path
PRIVSEP_DIR = "/run/sshd"  # Debian's sshd refuses to start without it
WRONG_KEY_BOUND_S = 60     # a failing connect must not hang; it takes well under a second


def load_guest_tests():
    """guest-tests.py's Provider, CpfError, virsh and check (one place for talking to
    prlkit-cpf and printing TAP)."""
    spec = importlib.util.spec_from_file_location("guest_tests",
                                                  os.path.join(HERE, "guest-tests.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


gt = load_guest_tests()
CpfError = gt.CpfError
Provider = gt.Provider
check = gt.check
virsh = gt.virsh


class Cpf(Provider):
    """A prlkit-cpf process, initialized; connected by connect(), or failing to be."""

    def __init__(self, cpf, log):  # pylint: disable=super-init-not-called
        self.proc = subprocess.Popen([cpf, "--driver", "libvirt"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=log, text=True)
        self.call("provider/initialize")

    def connect(self, settings):
        self.call("provider/connect", {"settings": settings})

    def connect_error(self, settings):
        """provider/connect that must fail: (its error message, seconds it took)."""
        t0 = time.monotonic()
        try:
            self.connect(settings)
        except CpfError as e:
            return str(e), time.monotonic() - t0
        raise CpfError("provider/connect succeeded")


def run(argv):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        raise CpfError("%s: exit %d: %s" % (" ".join(argv), out.returncode, out.stderr.strip()))
    return out


def children(pid):
    """PIDs whose parent is pid (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
            out.append(int(d))
    return out


def descendants(pid):
    todo, found = [pid], []
    while todo:
        for c in children(todo.pop()):
            found.append(c)
            todo.append(c)
    return found


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def program(pid):
    """The executable a process runs (the shells around virt-ssh-helper name it too)."""
    try:
        return os.path.basename(os.readlink("/proc/%d/exe" % pid))
    except OSError:
        return ""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write(path, text, mode=0o600):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


class PrivateSshd:
    """An sshd of its own on 127.0.0.1, and an OpenSSH client configuration for it."""

    def __init__(self, state):
        self.state = state
        self.dir = tempfile.mkdtemp(prefix="sshd.", dir=state)   # 0700
        write(os.path.join(state, "sshd.dir"), self.dir + "\n", 0o644)
        self.proc = None
        self.port = None
        self.made_privsep = False

    def path(self, name):
        return os.path.join(self.dir, name)

    def keygen(self, name, comment):
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment,
             "-f", self.path(name)])

    def client(self, name, known_hosts):
        """A client configuration and the ssh command that uses it (for command=)."""
        write(self.path(name + ".conf"), f"""Host *
    UserKnownHostsFile {known_hosts}
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    UpdateHostKeys no
    CheckHostIP no
    BatchMode yes
    IdentitiesOnly yes
    IdentityAgent none
    ConnectTimeout 10
""")
        write(self.path(name), f"""#!/bin/sh
# libvirt runs this as its ssh command (URI parameter command=): OpenSSH with the test's
# client configuration only (-F: neither root's ~/.ssh nor /etc/ssh/ssh_config).
exec ssh -F {self.path(name + ".conf")} "$@"
""", 0o700)
        return self.path(name)

    def start(self):
        self.keygen("host_key", "prlkit-it-sshd")
        self.keygen("client_key", "prlkit-it-client")
        self.keygen("wrong_key", "prlkit-it-not-authorized")
        self.keygen("other_host_key", "prlkit-it-other-host")
        with open(self.path("client_key.pub")) as f:
            write(self.path("authorized_keys"), f.read())
        if not os.path.isdir(PRIVSEP_DIR):
            os.mkdir(PRIVSEP_DIR, 0o755)
            self.made_privsep = True
            write(os.path.join(self.state, "sshd-privsep.created"), PRIVSEP_DIR + "\n", 0o644)
        for _ in range(3):   # another process may take the free port first
            self.port = free_port()
            write(self.path("sshd_config"), f"""ListenAddress 127.0.0.1:{self.port}
HostKey {self.path("host_key")}
PidFile none
AuthorizedKeysFile {self.path("authorized_keys")}
PermitRootLogin prohibit-password
AllowUsers root
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes yes
PermitTTY no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
PrintMotd no
LogLevel VERBOSE
""")
            run([SSHD, "-t", "-f", self.path("sshd_config")])
            log = open(self.path("sshd.log"), "a")
            self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", self.path("sshd_config")],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            log.close()
            write(os.path.join(self.state, "sshd.pid"), "%d\n" % self.proc.pid, 0o644)
            end = time.monotonic() + 10
            while self.proc.poll() is None and time.monotonic() < end:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            if self.proc.poll() is None:
                break
        if self.proc.poll() is not None:
            with open(self.path("sshd.log")) as f:
                raise CpfError("sshd exited:\n" + f.read()[-2000:])
        # known_hosts from the private host key itself; one naming another key
        for name, key in (("known_hosts", "host_key"), ("other_known_hosts", "other_host_key")):
            pub = run(["ssh-keygen", "-y", "-f", self.path(key)]).stdout.split()
            write(self.path(name), "[127.0.0.1]:%d %s %s\n" % (self.port, pub[0], pub[1]),
                  0o644)
        self.ssh = self.client("ssh", self.path("known_hosts"))
        self.ssh_other = self.client("ssh-other-host", self.path("other_known_hosts"))
        out = subprocess.run([self.ssh, "-p", str(self.port), "-i", self.path("client_key"),
                              "root@127.0.0.1", "echo", "prlkit-it-ssh-ok"],
                             capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        if out.stdout.strip() != "prlkit-it-ssh-ok":
            raise CpfError("ssh with the test key failed: %s" % (out.stderr or out.stdout))
        return "127.0.0.1:%d, %s" % (self.port, self.dir)

    def uri(self, key="client_key", ssh=None):
        return ("qemu+ssh://root@127.0.0.1:%d/system?keyfile=%s&command=%s&no_tty=1" %
                (self.port, self.path(key), ssh or self.ssh))

    def libssh_uri(self):
        return ("qemu+libssh://root@127.0.0.1:%d/system?keyfile=%s&known_hosts=%s"
                "&known_hosts_verify=normal&sshauth=privkey" %
                (self.port, self.path("client_key"), self.path("known_hosts")))

    def sessions(self):
        """Every process under the sshd: connections, shells, virt-ssh-helper."""
        return descendants(self.proc.pid) if self.proc else []

    def secrets(self):
        """The base64 lines of the private keys: none may show in a message or log."""
        lines = []
        for key in ("client_key", "wrong_key", "host_key"):
            with open(self.path(key)) as f:
                lines += [l.strip() for l in f if l.strip() and not l.startswith("-----")]
        return lines

    def stop(self):
        """Stops the sshd and what runs under it (by PID), removes every file."""
        if self.proc is not None and self.proc.poll() is None:
            # by PID, remembering what each ran: a PID that ended may be reused
            procs = [(pid, cmdline(pid)) for pid in [self.proc.pid] + self.sessions()]
            for pid, _ in procs:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            end = time.monotonic() + 5
            left = procs[1:]
            while left and time.monotonic() < end:
                time.sleep(0.1)
                left = [(pid, cmd) for pid, cmd in left if cmd and cmdline(pid) == cmd]
            for pid, _ in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        shutil.rmtree(self.dir, ignore_errors=True)
        for name in ("sshd.pid", "sshd.dir"):
            try:
                os.unlink(os.path.join(self.state, name))
            except FileNotFoundError:
                pass
        if self.made_privsep:
            try:
                os.rmdir(PRIVSEP_DIR)
                os.unlink(os.path.join(self.state, "sshd-privsep.created"))
            except OSError:
                pass


def ssh_dir_state():
    """Root's ~/.ssh as a comparable value: the test must leave it as it was."""
    d = os.path.expanduser("~root/.ssh")
    if not os.path.isdir(d):
        return "absent"
    return sorted((n, os.stat(os.path.join(d, n)).st_mtime_ns) for n in os.listdir(d))


def main():
    ap = argparse.ArgumentParser()
    for opt in ("--cpf", "--cpf-check", "--gold", "--gold-name", "--pool", "--state", "--log"):
        ap.add_argument(opt, required=True)
    a = ap.parse_args()
    log = open(a.log, "a")
    home_ssh = ssh_dir_state()
    sshd = PrivateSshd(a.state)
    providers = []
    # (The password is unused over ssh; with it, no-secret checks have a secret to miss.)
    password = "prlkit-it-ssh-unused-secret"

    def settings(uri):
        return {"driver": "libvirt", "uri": uri, "storage_pool": a.pool,
                "stop_mode": "destroy", "password": password}

    def provider(uri):
        p = Cpf(a.cpf, log)
        providers.append(p)
        p.connect(settings(uri))
        return p

    state = {}

    def start_sshd():
        return sshd.start()

    def connect():
        state["p"] = provider(sshd.uri())
        return sshd.uri().replace(sshd.dir, "$DIR")

    def through_sshd():
        helpers = [cmdline(p) for p in sshd.sessions() if program(p) == "virt-ssh-helper"]
        if not helpers:
            raise CpfError("no virt-ssh-helper under the private sshd; its processes: %s" %
                           [cmdline(p) for p in sshd.sessions()])
        return "; ".join(helpers)

    def list_gold():
        guests = state["p"].call("guests/list")["guests"]
        if a.gold not in guests:
            raise CpfError("%s not in %s" % (a.gold, guests))
        return "%d guests" % len(guests)

    def get_gold():
        g = state["p"].get(a.gold)
        if g.get("name") != a.gold_name or g.get("state") != "powered_off":
            raise CpfError("unexpected guest: name %s, state %s" % (g.get("name"),
                                                                    g.get("state")))
        return "%s: %s" % (g["name"], g["state"])

    def power_cycle():
        p = state["p"]
        p.control(a.gold, "start")
        p.wait(a.gold, "powered_on", lambda g: g["state"] == "powered_on", 60)
        on = virsh("domstate", a.gold_name)
        p.control(a.gold, "stop")
        p.wait(a.gold, "powered_off", lambda g: g["state"] == "powered_off", 60)
        off = virsh("domstate", a.gold_name)
        if on != "running" or off != "shut off":
            raise CpfError("virsh says %r after start, %r after stop" % (on, off))
        return "virsh: %s, then %s" % (on, off)

    def snapshot():
        p, name = state["p"], "prlkit-it-ssh-snap"
        before = virsh("domblklist", a.gold_name)
        p.task(p.call("guests/snapshots/create", {"id": a.gold, "name": name})["task_id"])
        if p.call("guests/snapshots/exists", {"id": a.gold, "name": name}) is not True:
            raise CpfError("the snapshot does not exist after create")
        during = virsh("domblklist", a.gold_name)
        if during == before:
            raise CpfError("the disk was not switched to a new overlay:\n" + during)
        p.task(p.call("guests/snapshots/delete", {"id": a.gold, "name": name})["task_id"])
        if p.call("guests/snapshots/exists", {"id": a.gold, "name": name}) is not False:
            raise CpfError("the snapshot still exists after delete")
        return "overlay during: " + " ".join(during.split()[1:])

    def no_secret(text, where):
        for s in [password] + sshd.secrets():
            if s in text:
                raise CpfError("%s repeats a secret: %s" % (where, text))

    def failing_connect(uri, expect):
        u = Cpf(a.cpf, log)
        try:
            msg, took = u.connect_error(settings(uri))
            if took > WRONG_KEY_BOUND_S:
                raise CpfError("took %.1f s (bound %d s): %s" % (took, WRONG_KEY_BOUND_S, msg))
            for want in ("cannot connect", "PRL_ERR_CANT_CONNECT_TO_DISPATCHER", expect):
                if want not in msg:
                    raise CpfError("%r not in the message: %s" % (want, msg))
            no_secret(msg, "the error")
            try:   # the provider goes on, not connected
                u.call("guests/list")
                raise CpfError("guests/list succeeded after a failed connect")
            except CpfError as e:
                if "not connected" not in str(e):
                    raise
        finally:
            u.close()
        if u.proc.returncode != 0:
            raise CpfError("prlkit-cpf exited with %d" % u.proc.returncode)
        shown = msg.replace(sshd.dir, "$DIR")
        if len(shown) > 400:   # ssh's host key warning is a whole banner
            shown = shown[:150] + " [...] " + shown[-200:]
        return "%.2f s: %s" % (took, shown)

    def wrong_key():
        return failing_connect(sshd.uri(key="wrong_key"), "Permission denied (publickey)")

    def wrong_host_key():
        return failing_connect(sshd.uri(ssh=sshd.ssh_other), "Host key verification failed")

    def libssh():
        p = provider(sshd.libssh_uri())
        if a.gold not in p.call("guests/list")["guests"]:
            raise CpfError("%s not listed" % a.gold)
        return p.get(a.gold)["state"]

    def logs_clean():
        log.flush()
        with open(a.log) as f:
            no_secret(f.read(), "the providers' log")

    def workflows():
        """prlkit-cpf-check's every RAS workflow over qemu+ssh://, its TAP lines relayed."""
        argv = [a.cpf_check, "--poll-scale", "0.1", "--guest", a.gold,
                "--clone-name", "prlkit-it-ssh-host"]
        for k, v in settings(sshd.uri()).items():
            argv += ["--set", "%s=%s" % (k, v)]
        argv += ["--provider-stderr", a.log, "--", a.cpf, "--driver", "libvirt"]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True)
        seen = 0
        for line in proc.stdout:
            line = line.rstrip("\n")
            ok = line.startswith("ok ")
            if ok or line.startswith("not ok "):
                desc = line.split(" - ", 1)[1] if " - " in line else line
                print("%s - cpf-check: %s" % ("ok" if ok else "not ok", desc))
                gt.results.append(ok)
                seen += 1
            elif line.startswith("#"):
                print(line)
            sys.stdout.flush()
        rc = proc.wait(timeout=900)
        if seen == 0 or (rc != 0 and all(gt.results[-seen:])):
            print("not ok - cpf-check: exited with %d" % rc)
            gt.results.append(False)

    def cleanup():
        for p in providers:
            p.close()
        providers.clear()
        time.sleep(0.2)   # the ssh clients end with their provider; their sessions next
        left = [cmdline(p) for p in sshd.sessions()]
        sshd.stop()
        if left:
            raise CpfError("sessions still open after every provider exited: %s" % left)
        if os.path.exists(sshd.dir) or os.path.exists(os.path.join(a.state, "sshd.pid")):
            raise CpfError("files left: %s" % sshd.dir)
        if sshd.proc is not None and sshd.proc.poll() is None:
            raise CpfError("sshd still runs")
        if ssh_dir_state() != home_ssh:
            raise CpfError("root's ~/.ssh changed: %s, before %s" % (ssh_dir_state(), home_ssh))

    try:
        check("private sshd on 127.0.0.1 (own host key and config, root by key only)",
              start_sshd)
        if gt.results[-1]:
            check("provider/connect over qemu+ssh:// (keyfile=, no_tty=, command= running "
                  "ssh with a known_hosts made from the host key)", connect)
        if gt.results[-1]:
            check("the connection runs through the private sshd (virt-ssh-helper on the "
                  "remote side)", through_sshd)
            check("guests/list contains the gold guest", list_gold)
            check("guests/get: the gold guest's name and state", get_gold)
            check("power cycle: start -> powered_on, stop -> powered_off (virsh agrees)",
                  power_cycle)
            check("snapshot: create (the disk moves to a new overlay), exists, delete", snapshot)
            check("wrong key: provider/connect fails at once with ssh's reason, no secret "
                  "in it", wrong_key)
            check("host key not in known_hosts: provider/connect fails (the host key is "
                  "verified)", wrong_host_key)
            check("qemu+libssh:// with libvirt's known_hosts= and keyfile=: connect, list",
                  libssh)
            check("no secret (password, private keys) in the providers' log", logs_clean)
            for p in providers:
                p.close()
            providers.clear()
            workflows()
    finally:
        check("teardown: sshd and its sessions stopped, its files removed, root's ~/.ssh "
              "untouched", cleanup)
    return 0 if all(gt.results) else 1


if __name__ == "__main__":
    sys.exit(main())
