#!/usr/bin/env python3
"""Secrets given to prlkit-cpf (settings whose key contains secret, password, token or key)
never show up on stderr, in the log file or in any reply — on a successful connect, on a
failing one, and when the settings file holds them."""

import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpfharness import Provider, Tap, sim_settings, test_tmpdir  # noqa: E402

SECRETS = {
    "password": "Pa55w0rd-Very-Secret!",
    "token_secret": "3f1c2a9e-7d4b-4c2d-9a8e-b1c2d3e4f5a6",
    "api_token": "root@pam!ras=0a1b2c3d4e5f",
    "private_key": "-----BEGIN KEY----- AAAAB3NzaC1yc2E",
    "ClientSecret": "cl13nt-s3cr3t-value",
    "apikey": 987654321987,
}
FILE_SECRET = "file-only-secret-42x"

tap = Tap()
tmp = test_tmpdir()
state = os.path.join(tmp, "state")
log_file = os.path.join(tmp, "cpf.log")
settings_file = os.path.join(tmp, "defaults.json")
with open(settings_file, "w") as f:
    json.dump({"guests_polling_rate": 20, "token_secret_default": FILE_SECRET}, f)


def texts_of(p):
    out = [p.stderr_text()]
    if os.path.exists(log_file):
        with open(log_file, encoding="utf-8", errors="replace") as f:
            out.append(f.read())
    out.append("\n".join(json.dumps(r) for r in p.replies))
    return "\n".join(out)


def check_no_secrets(p, what):
    text = texts_of(p)
    leaked = [k for k, v in SECRETS.items() if str(v) in text]
    if FILE_SECRET in text:
        leaked.append("settings file secret")
    # Fragments too: a secret cut in half by a log formatter is still a leak.
    for k, v in SECRETS.items():
        v = str(v)
        if len(v) >= 16 and (v[:12] in text or v[-12:] in text):
            leaked.append(k + " (fragment)")
    tap.ok(not leaked, "%s: no secret in stderr, log file or replies" % what, leaked)


args = ["--driver", "sim", "--log-level", "debug", "--log-file", log_file,
        "--settings", settings_file]

# 1. A successful connect carrying secrets, then some traffic.
p = Provider(args)
p.call("provider/initialize")
r = p.connect(sim_settings(state, **SECRETS))
tap.ok(r == {"result": {}}, "connect with secret settings succeeds", r)
p.call("guests/list")
p.call("guests/get", {"id": "does-not-exist"})
p.call("tasks/get", {"id": SECRETS["password"]})      # a secret pasted where it does not belong
p.call("guests/get", {"id": SECRETS["token_secret"]})
tap.ok(p.close() == 0, "provider exits 0")
check_no_secrets(p, "successful connect")
tap.ok(os.path.exists(log_file) and os.path.getsize(log_file) > 0, "the log file was written")

# 2. Failing connects: a refused setting, and an unreachable platform.
p = Provider(args)
r = p.connect(sim_settings(state, speed="not-a-number", **SECRETS))
tap.ok(r.get("error", {}).get("code") == -32602, "connect with a bad setting fails with -32602", r)
bad = dict(SECRETS)
bad.update({"driver": "pve", "host": "127.0.0.1:9", "username": "root@pam",
            "token_name": "ras", "request_timeout": "2"})
r = p.connect(bad)
tap.ok("error" in r, "connect to an unreachable platform fails", r)
r = p.connect({"driver": "sim", "state_dir": "/proc/definitely/not/writable",
               "password": SECRETS["password"]})
tap.ok("error" in r or "result" in r, "connect with an unusable state dir answers", r)
tap.ok(p.close() == 0, "provider exits 0 after failed connects")
check_no_secrets(p, "failing connects")

sys.exit(tap.done())
