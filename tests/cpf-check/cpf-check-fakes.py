#!/usr/bin/env python3
"""prlkit-cpf-check against fake providers: it must pass the good one at every
functionality level and leave its platform as found, fail each broken one with the right
test named, and handle its options and usage errors."""

import concurrent.futures
import importlib.util
import json
import os
import sys

sys.dont_write_bytecode = True  # the source tree may be shared or read-only
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checklib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "fake-provider.py")
WORKFLOWS = ["create-template", "enter-maintenance", "exit-maintenance-v1",
             "exit-maintenance-v2", "create-host", "cleanup"]
PROTOCOL = ["initialize", "capabilities", "unknown-method", "malformed-line", "connect",
            "guests-list", "guest-objects", "guests-get-unknown", "tasks-get-garbage"]
FINAL = ["exit-on-eof", "stdout-purity", "no-secrets-in-replies"]
SECRET = "hunter2-s3cr3t"


def load_fake():
    spec = importlib.util.spec_from_file_location("fake_provider", FAKE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def platform(state_file):
    """What must be the same before and after: each guest's power state, template flag and
    snapshots."""
    with open(state_file) as f:
        state = json.load(f)
    return {gid: (g["name"], g["state"], g["pending"], g["is_template"], sorted(g["snapshots"]))
            for gid, g in state["guests"].items()}


class Case:
    def __init__(self, name, fake=(), checker=(), status=1, failed=None, failed_includes=(),
                 level="versions", stopped_vm=True, check=None):
        self.name = name
        self.fake = list(fake)
        self.checker = list(checker)
        self.status = status
        self.failed = failed
        self.failed_includes = set(failed_includes)
        self.level = level
        self.stopped_vm = stopped_vm
        self.check = check

    def run(self, checker, workdir):
        self.state = os.path.join(workdir, self.name + ".json")
        fake = [sys.executable, FAKE, "--state", self.state, "--level", self.level] + self.fake
        if not self.stopped_vm:
            fake.append("--no-stopped-vm")
        # --settle 0 keeps back-to-back requests fast; the cases about stray lines after
        # a reply set it.
        args = [checker, "--poll-scale", "0", "--reply-timeout", "2", "--exit-timeout", "1",
                "--settle", "0"]
        self.result = checklib.Run(args + self.checker + ["--"] + fake)
        return self


def unchanged(fake_module, case):
    expected = fake_module.initial_state(case.level, case.stopped_vm)
    path = os.path.join(os.path.dirname(case.state), "expected-" + case.name + ".json")
    with open(path, "w") as f:
        json.dump(expected, f)
    try:
        before, after = platform(path), platform(case.state)
    except (OSError, ValueError, KeyError) as e:
        return False, "cannot read the fake platform: %r" % e
    return before == after, "before: %s\nafter:  %s" % (before, after)


def main():
    tap = checklib.Tap()
    checker = checklib.program("prlkit-cpf-check")
    if not checker:
        print("1..0 # SKIP prlkit-cpf-check is not built in %s" % checklib.builddir())
        return 0
    fake_module = load_fake()
    workdir = checklib.tmpdir("cpf-check-fakes.")

    def all_workflows_pass(run):
        return all(run.results.get(n) == "pass" for n in WORKFLOWS), "every workflow ran and passed"

    def no_secret_printed(run):
        return (SECRET not in run.stdout and SECRET not in run.stderr and "***" in run.stderr,
                "the secret must be redacted (***) in --verbose output")

    cases = [
        Case("good-versions", status=0, failed=set(), check=all_workflows_pass),
        Case("good-link", level="link", status=0, failed=set(),
             check=lambda r: (r.results.get("exit-maintenance-v2") == "skip" and
                              all(r.results.get(n) == "pass" for n in WORKFLOWS
                                  if n != "exit-maintenance-v2"), "v2 skipped, others pass")),
        Case("good-full", level="full", status=0, failed=set(),
             check=lambda r: (r.results.get("exit-maintenance-v2") == "skip" and
                              r.results.get("create-host") == "pass", "v2 skipped, host ok")),
        Case("good-basic-level", level="none", status=0, failed=set(),
             check=lambda r: (all(r.results.get(n) == "skip" for n in WORKFLOWS[:-1]) and
                              "template_method is none" in r.reasons["create-host"],
                              "every workflow skipped with the reason")),
        Case("existing-template", stopped_vm=False, status=0, failed=set(),
             check=lambda r: (r.results.get("create-template") == "skip" and
                              "--guest" in r.reasons["create-template"] and
                              all(r.results.get(n) == "pass" for n in WORKFLOWS[1:]),
                              "create-template skipped, the rest on template 101")),
        Case("explicit-running-guest", checker=["--guest", "103"], status=0, failed=set(),
             check=all_workflows_pass),
        Case("only-protocol", checker=["--only", "protocol"], status=0, failed=set(),
             check=lambda r: (not set(WORKFLOWS) & set(r.results) and
                              set(PROTOCOL + FINAL) <= set(r.results), "protocol tests only")),
        Case("only-workflows", checker=["--only", "workflows"], status=0, failed=set(),
             check=lambda r: (not set(PROTOCOL) & set(r.results) and
                              set(WORKFLOWS + FINAL) <= set(r.results), "workflows only")),
        Case("skip-option", checker=["--skip", "guest-objects", "--skip", "create-host"],
             status=0, failed=set(),
             check=lambda r: (r.reasons.get("guest-objects") == "skipped with --skip" and
                              r.reasons.get("create-host") == "skipped with --skip",
                              "both skipped")),
        Case("verbose-redaction", checker=["-v", "--set", "token_secret=" + SECRET], status=0,
             failed=set(), check=no_secret_printed),
        Case("junk-stdout", fake=["--fault", "junk-stdout"], failed={"stdout-purity"}),
        # Every request waits out the settle time: keep this one to a few requests.
        Case("double-reply", fake=["--fault", "double-reply"],
             checker=["--settle", "0.2", "--only", "protocol", "--max-guests", "1"],
             failed={"stdout-purity"}),
        Case("short-secret-verbose", checker=["-v", "--set", "password=pw1"], status=0,
             failed=set(), check=lambda r: ('"password":"***"' in r.stderr and
                                            "pw1" not in r.stderr,
                                            "a short secret is hidden in the connect line")),
        Case("bad-capabilities", fake=["--fault", "bad-capabilities"], failed={"capabilities"}),
        Case("lowercase-mac", fake=["--fault", "lowercase-mac"], failed={"guest-objects"}),
        Case("no-output", fake=["--fault", "no-output"], failed=set(WORKFLOWS)),
        Case("no-clone-id", fake=["--fault", "no-clone-id"], failed={"create-host"}),
        Case("no-exit", fake=["--fault", "no-exit"], failed={"exit-on-eof"}),
        Case("leave-child", fake=["--fault", "leave-child"], failed={"exit-on-eof"},
             checker=["--only", "protocol"],
             check=lambda r: ("stdout stayed open" in r.stdout, "the open stdout is named")),
        Case("hang", fake=["--fault", "hang"], failed={"tasks-get-garbage"}),
        Case("pretty-json", fake=["--fault", "pretty-json"], checker=["--reply-timeout", "1"],
             failed_includes={"initialize", "stdout-purity"}),
        Case("bom", fake=["--fault", "bom"], failed_includes={"initialize"}),
        Case("garbage-task-completed", fake=["--fault", "garbage-task-completed"],
             failed={"tasks-get-garbage"}),
        Case("crash-on-unknown", fake=["--fault", "crash-on-unknown"],
             failed={"unknown-method"}),
        Case("secret-echo", fake=["--fault", "secret-echo"],
             checker=["-v", "--set", "password=" + SECRET], failed={"no-secrets-in-replies"},
             check=no_secret_printed),
        Case("delete-noop", fake=["--fault", "delete-noop"], failed={"create-host", "cleanup"}),
        Case("stuck-task", fake=["--fault", "stuck-task"],
             failed_includes={"create-template", "create-host"}),
    ]
    # Cases after which the fake platform must be exactly as it started.
    restored = {"good-versions", "good-link", "good-full", "good-basic-level",
                "existing-template", "explicit-running-guest", "only-workflows",
                "verbose-redaction", "no-clone-id", "stuck-task", "hang", "junk-stdout"}

    # The cases that wait for timeouts start first, so the others run meanwhile.
    slow = {"pretty-json", "hang", "no-exit", "double-reply"}
    order = sorted(cases, key=lambda c: c.name not in slow)
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for case in order:
            case.future = pool.submit(case.run, checker, workdir)
        for case in cases:
            case.future.result()

    for case in cases:
        run = case.result
        details = run.describe()
        tap.ok(run.status == case.status and run.summary is not None and
               run.plan == len(run.results),
               "%s: exit status %d, a plan and a summary line" % (case.name, case.status),
               details)
        if case.failed is not None:
            tap.ok(run.failed() == case.failed,
                   "%s: failing tests are exactly %s" % (case.name, sorted(case.failed) or
                                                         "none"),
                   "failed: %s\n%s" % (sorted(run.failed()), details))
        if case.failed_includes:
            tap.ok(case.failed_includes <= run.failed(),
                   "%s: failing tests include %s" % (case.name, sorted(case.failed_includes)),
                   "failed: %s\n%s" % (sorted(run.failed()), details))
        if case.check:
            good, what = case.check(run)
            tap.ok(good, "%s: %s" % (case.name, what), details)
        if case.name in restored:
            good, diff = unchanged(fake_module, case)
            tap.ok(good, "%s: the platform is left as found" % case.name, diff)

    # Usage errors and informational options.
    bad_settings = os.path.join(workdir, "array.json")
    with open(bad_settings, "w") as f:
        f.write("[1, 2]")
    fake = [sys.executable, FAKE, "--state", os.path.join(workdir, "usage.json")]
    usage = [
        ("no command", [], 2, ""),
        ("no command after --", ["--"], 2, ""),
        ("bad --only", ["--only", "everything", "--"] + fake, 2, ""),
        ("unknown --skip", ["--skip", "no-such-test", "--"] + fake, 2, ""),
        ("argument before --", ["stray", "--"] + fake, 2, ""),
        ("settings not an object", ["--settings", bad_settings, "--"] + fake, 2, ""),
        ("missing settings file", ["--settings", os.path.join(workdir, "none.json"), "--"]
         + fake, 2, ""),
        ("bad --reply-timeout", ["--reply-timeout", "0", "--"] + fake, 2, ""),
        ("command that cannot start", ["--", os.path.join(workdir, "no-such-provider")], 2,
         "Bail out!"),
        ("--version", ["--version"], 0, "prlkit-cpf-check "),
        ("--list-tests", ["--list-tests"], 0, "tasks-get-garbage"),
        ("--help", ["--help"], 0, "--poll-scale"),
    ]
    for name, args, status, expect in usage:
        run = checklib.Run([checker] + args)
        tap.ok(run.status == status and expect in run.stdout,
               "%s: exit status %d" % (name, status), run.describe())

    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
