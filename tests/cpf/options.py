#!/usr/bin/env python3
"""prlkit-cpf's command line: --version, --help, bad options, --error-code-style,
--max-line, --settings (defaults merged under provider/connect, clamped capabilities),
--uri, --log-file, --wait-timeout, and the capability/driver agreement on connect."""

import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpfharness import (Provider, Tap, SIX_CAPS, provider_path, sim_settings,  # noqa: E402
                        test_tmpdir)

tap = Tap()
tmp = test_tmpdir()
exe = provider_path()


def run(args):
    return subprocess.run([exe] + args, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=30)


# Started with stderr closed (some service managers do): it still answers, and exits 0.
r = subprocess.run([exe, "--driver", "sim"], input=b'{"method":"provider/initialize"}\n',
                   stdout=subprocess.PIPE, preexec_fn=lambda: os.close(2), timeout=30)
tap.ok(r.returncode == 0 and r.stdout.startswith(b'{"result":{"version":"1.0.0"'),
       "stderr closed at start: answers and exits 0", r)

r = run(["--version"])
tap.ok(r.returncode == 0 and r.stdout.startswith(b"prlkit-cpf "), "--version", r)
r = run(["--help"])
tap.ok(r.returncode == 0 and b"--driver" in r.stdout and b"--max-line" in r.stdout and
       b"--error-code-style" in r.stdout and b"--settings" in r.stdout, "--help", r.stdout[:300])
for bad in (["--no-such-option"], ["--error-code-style", "xml"], ["--max-line", "lots"],
            ["--log-level", "chatty"], ["--wait-timeout", "-1"], ["--driver", "no-such-driver"],
            ["--settings", os.path.join(tmp, "missing.json")], ["extra-argument"]):
    r = run(bad)
    tap.ok(r.returncode == 2 and r.stdout == b"" and r.stderr.startswith(b"prlkit-cpf: "),
           "bad command line %r: exit 2, message on stderr" % bad, r)
notobj = os.path.join(tmp, "array.json")
with open(notobj, "w") as f:
    f.write("[1]")
r = run(["--settings", notobj])
tap.ok(r.returncode == 2, "--settings with a non-object: exit 2", r)

# Empty input: exit 0 and nothing on stdout.
r = run(["--driver", "sim"])
tap.ok(r.returncode == 0 and r.stdout == b"", "EOF at once: exit 0, empty stdout", r)

# --error-code-style doc: 1 for every top-level error.
p = Provider(["--driver", "sim", "--error-code-style", "doc"])
codes = [p.raw_request(b"{").get("error", {}).get("code"),
         p.call("no/such").get("error", {}).get("code"),
         p.call("guests/list").get("error", {}).get("code"),
         p.call("provider/connect", {}).get("error", {}).get("code")]
tap.ok(codes == [1, 1, 1, 1], "doc style: code 1 everywhere", codes)
tap.ok("result" in p.call("provider/initialize"), "doc style: initialize still answers")
tap.ok(p.close() == 0, "doc style: exit 0")

# --max-line: a longer line is consumed and answered -32700 "request too large".
p = Provider(["--driver", "sim", "--max-line", "1K"])
r = p.raw_request(b'{"method":"provider/initialize","params":{"x":"' + b"y" * 2000 + b'"}}')
tap.ok(r.get("error", {}).get("code") == -32700 and "request too large" in r["error"]["message"],
       "--max-line 1K: a 2 KB line is too large", r)
r = p.raw_request(b'{"method":"provider/initialize","params":{"x":"' + b"y" * 900 + b'"}}')
tap.ok("result" in r, "--max-line 1K: a 0.9 KB line is fine", r)
p.send_raw(b"z" * 5000 + b"\n" + b'{"method":"provider/initialize"}\n')
p.requests += 2
r1, r2 = p.read_reply(), p.read_reply()
tap.ok(r1.get("error", {}).get("code") == -32700 and "result" in r2,
       "too-large line followed by a request in the same write", [r1, r2])
tap.ok(p.close() == 0, "--max-line: exit 0")

# --settings: defaults under provider/connect; polling settings clamped into range.
state = os.path.join(tmp, "state")
defaults = os.path.join(tmp, "defaults.json")
with open(defaults, "w") as f:
    json.dump({"driver": "sim", "state_dir": state, "speed": "0", "guests_polling_rate": 1,
               "tasks_polling_rate": "5", "tasks_polling_retries": 1000}, f)
p = Provider(["--settings", defaults])
caps = p.result("provider/initialize")["capabilities"]
tap.ok(set(caps) == set(SIX_CAPS), "six capabilities from the settings file's driver", caps)
tap.ok(caps["guests_polling_rate"] == 3 and caps["tasks_polling_rate"] == 5 and
       caps["tasks_polling_retries"] == 180, "out-of-range settings clamped", caps)
tap.ok("guests_polling_rate" in p.stderr_text(), "clamping logged a warning")
r = p.connect({"guests_polling_rate": "900"})
tap.ok(r == {"result": {}}, "connect with only a polling rate: the file gives the rest", r)
caps = p.result("provider/initialize")["capabilities"]
tap.ok(caps["guests_polling_rate"] == 900 and caps["tasks_polling_rate"] == 5,
       "connect settings override the file's", caps)
tap.ok(os.path.isdir(state), "the file's state_dir was used")
for key, value in (("foo", {"a": 1}), ("speed", [0]), ("password", ["S3cr3t-in-a-list"])):
    r = p.connect({key: value})
    tap.ok(r.get("error", {}).get("code") == -32602 and
           "invalid setting '%s'" % key in r["error"]["message"] and
           "S3cr3t" not in r["error"]["message"],
           "a setting that is an object or array: -32602 naming it (%s)" % key, r)
for bad in ({}, {"settings": "x"}, {"settings": None}):
    tap.ok(p.connect({"speed": "0"}) == {"result": {}}, "connected again")
    r = p.call("provider/connect", bad)
    after = p.call("guests/list")
    tap.ok(r.get("error", {}).get("code") == -32602 and
           after.get("error", {}).get("code") == -32603 and
           "not connected" in after["error"]["message"],
           "a failed connect (%r) leaves the process not connected" % bad, [r, after])
r = p.connect({"state_dri": "/tmp/typo", "speed": "0"})
tap.ok(r == {"result": {}}, "an unknown setting is ignored", r)
tap.ok("setting 'state_dri' is not one the sim driver knows" in p.stderr_text() and
       "'speed' is not one" not in p.stderr_text() and
       "'state_dir' is not one" not in p.stderr_text(),
       "... with a warning naming it (and only it)",
       [line for line in p.stderr_text().splitlines() if "setting" in line])
r = p.connect({"tasks_polling_rate": "often"})
tap.ok(r.get("error", {}).get("code") == -32602 and "tasks_polling_rate" in r["error"]["message"],
       "a polling rate that is not a number is -32602 naming the key", r)
tap.ok(p.close() == 0, "--settings: exit 0")

# --uri selects the sim state; provider/connect {"driver":"sim"} keeps it.
udir = os.path.join(tmp, "uri-state")
p = Provider(["--uri", "sim://%s?speed=0" % udir])
tap.ok("result" in p.call("provider/initialize"), "--uri: initialize")
r = p.connect({"driver": "sim"})
tap.ok(r == {"result": {}}, "--uri: connect with driver only", r)
tap.ok(p.result("guests/list")["guests"], "--uri: inventory", )
tap.ok(os.path.isdir(udir), "--uri: the URI's directory holds the state")
tap.ok(p.close() == 0, "--uri: exit 0")

# --log-file and --log-level.
log = os.path.join(tmp, "cpf.log")
p = Provider(["--driver", "sim", "--log-file", log, "--log-level", "debug"])
p.connect(sim_settings(os.path.join(tmp, "s2")))
p.call("guests/list")
tap.ok(p.close() == 0, "--log-file: exit 0")
with open(log, encoding="utf-8") as f:
    text = f.read()
tap.ok("guests/list" in text and "DEBUG" in text, "--log-file gets debug lines")
p = Provider(["--driver", "sim", "--log-level", "error"])
p.connect(sim_settings(os.path.join(tmp, "s3")))
p.call("guests/list")
p.close()
tap.ok("INFO" not in p.stderr_text() and "DEBUG" not in p.stderr_text(),
       "--log-level error: no info or debug lines")

# --wait-timeout is accepted and the provider still works.
p = Provider(["--driver", "sim", "--wait-timeout", "5"])
tap.ok(p.connect(sim_settings(os.path.join(tmp, "s4"))) == {"result": {}}, "--wait-timeout 5")
r = p.connect(sim_settings(os.path.join(tmp, "s4"), wait_timeout="abc"))
tap.ok(r.get("error", {}).get("code") == -32602, "setting wait_timeout not a number: -32602", r)
tap.ok(p.close() == 0, "--wait-timeout: exit 0")

# A connect that selects a driver with fewer features than initialize advertised fails, and
# before anything goes on the wire (pve in its default template mode has no linked clones,
# which sim advertised; 127.0.0.1:9 would refuse anyway).
p = Provider(["--driver", "sim"])
caps = p.result("provider/initialize")["capabilities"]
r = p.connect({"driver": "pve", "host": "127.0.0.1:9", "username": "root@pam",
               "password": "not-used-at-all"})
msg = r.get("error", {}).get("message", "")
if "no driver for" in msg:
    tap.skip("connect to a driver with fewer features fails", "pve driver not built")
else:
    tap.ok(r.get("error", {}).get("code") == -32602 and "advertised" in msg and
           "linked clones" in msg, "connect to pve after sim's capabilities fails clearly", r)
tap.ok("result" in p.call("provider/initialize"), "initialize still answers")
tap.ok(p.close() == 0, "exit 0")
# Started for pve, the same connect is not refused for features.
p = Provider(["--driver", "pve"])
caps = p.result("provider/initialize")["capabilities"]
tap.ok(set(caps) == set(SIX_CAPS), "initialize with --driver pve: six capabilities", caps)
r = p.connect({"driver": "pve", "host": "127.0.0.1:9", "username": "root@pam",
               "password": "not-used-at-all", "request_timeout": "2"})
tap.ok(r.get("error", {}).get("code") == -32603 or "no driver for" in str(r),
       "pve unreachable: -32603", r)
tap.ok(p.close() == 0, "exit 0")

sys.exit(tap.done())
