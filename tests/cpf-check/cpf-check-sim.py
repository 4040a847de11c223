#!/usr/bin/env python3
"""prlkit-cpf-check against the real thing: prlkit-cpf on the sim driver, once with instant
operations and no waits between polls, once with realistic timings sped up 50 times and the
advertised polling rates scaled by the same factor (and the checker's default settle time). Every test must pass, the workflows must really run, and the simulated
platform must be left as found (checked independently through prlkit-cpf itself)."""

import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # the source tree may be shared or read-only
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checklib  # noqa: E402

SNAPSHOTS = ["RAS_TEMPLATE_VERSION_1", "RAS_TEMPLATE_VERSION_2", "RAS_TEMPLATE_VERSION_3",
             "RAS Template Snapshot"]
MUST_PASS = ["initialize", "capabilities", "connect", "guest-objects", "create-template",
             "enter-maintenance", "exit-maintenance-v1", "create-host", "cleanup",
             "exit-on-eof", "stdout-purity"]


def inventory(provider, settings):
    """Every guest's name, state and template flag, and which RAS snapshots it has, read
    through the provider in one process."""
    proc = subprocess.Popen(provider, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)

    def call(method, params=None):
        proc.stdin.write(json.dumps({"method": method, "params": params or {}}) + "\n")
        proc.stdin.flush()
        reply = json.loads(proc.stdout.readline())
        if "error" in reply:
            raise RuntimeError("%s: %s" % (method, reply["error"]))
        return reply["result"]

    try:
        call("provider/initialize")
        call("provider/connect", {"settings": settings})
        guests = {}
        for gid in call("guests/list")["guests"]:
            g = call("guests/get", {"id": gid})
            guests[gid] = (g["name"], g["state"], g["is_template"],
                           [s for s in SNAPSHOTS
                            if call("guests/snapshots/exists", {"id": gid, "name": s})])
        return guests
    finally:
        proc.stdin.close()
        proc.wait(timeout=checklib.RUN_GUARD_SECONDS)


def main():
    tap = checklib.Tap()
    checker = checklib.program("prlkit-cpf-check")
    cpf = checklib.program("prlkit-cpf")
    if not checker:
        print("1..0 # SKIP prlkit-cpf-check is not built in %s" % checklib.builddir())
        return 0
    if not cpf:
        print("1..0 # SKIP prlkit-cpf is not built in %s (src/cpf)" % checklib.builddir())
        return 0
    workdir = checklib.tmpdir("cpf-check-sim.")
    provider = [cpf, "--driver", "sim"]

    for label, speed, options in (("speed 0", "0", ["--poll-scale", "0", "--settle", "0.01"]),
                                  ("speed 0.02", "0.02", ["--poll-scale", "0.02"])):
        settings = {"driver": "sim", "speed": speed,
                    "state_dir": os.path.join(workdir, "sim-" + speed)}
        settings_file = os.path.join(workdir, "settings-%s.json" % speed)
        with open(settings_file, "w") as f:
            json.dump(settings, f)

        try:
            before = inventory(provider, settings)
        except Exception as e:  # the provider itself is broken: report, do not crash
            tap.ok(False, "%s: prlkit-cpf lists the sim inventory" % label, repr(e))
            continue
        run = checklib.Run([checker, "--settings", settings_file, "--reply-timeout", "60"] +
                           options + ["--"] + provider)
        details = run.describe()
        tap.ok(run.status == 0 and not run.failed() and run.summary,
               "%s: prlkit-cpf-check passes prlkit-cpf (%s)" % (label, run.summary), details)
        not_passed = [n for n in MUST_PASS if run.results.get(n) != "pass"]
        tap.ok(not not_passed, "%s: the protocol tests and the workflows really ran" % label,
               "not passed: %s\n%s" % (not_passed, details))
        after = inventory(provider, settings)
        tap.ok(before == after, "%s: the sim platform is left as found" % label,
               "before: %s\nafter:  %s" % (before, after))

    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
