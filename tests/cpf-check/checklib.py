"""Helpers shared by the prlkit-cpf-check tests: locating programs, running the checker,
reading its TAP, and printing our own TAP."""

import os
import re
import subprocess
import sys
import tempfile

TAP_LINE = re.compile(r"^(not ok|ok) (\d+) - ([A-Za-z0-9-]+)(?::[^#]*)?(?: # SKIP (.*))?$")
SUMMARY_LINE = re.compile(r"^(\d+) passed, (\d+) failed")
# A guard against a hung run, not a timing assertion.
RUN_GUARD_SECONDS = 300


def builddir():
    return os.environ.get("top_builddir", os.getcwd())


def srcdir():
    return os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..", ".."))


def program(name):
    """Path of a program built in the top build directory, or None."""
    path = os.path.join(builddir(), name)
    return path if os.access(path, os.X_OK) else None


def tmpdir(prefix):
    base = os.environ.get("PRLKIT_TEST_TMPDIR") or tempfile.gettempdir()
    return tempfile.mkdtemp(prefix=prefix, dir=base)


class Run:
    """One prlkit-cpf-check run: exit status, output, and the result of each test."""

    def __init__(self, args):
        self.args = args
        proc = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=RUN_GUARD_SECONDS)
        self.status = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.results = {}      # name -> "pass" | "fail" | "skip"
        self.reasons = {}      # name -> skip reason
        self.plan = None
        self.summary = None
        for line in self.stdout.splitlines():
            m = TAP_LINE.match(line)
            if m:
                status, _, name, skip = m.groups()
                self.results[name] = ("fail" if status == "not ok"
                                      else "skip" if skip is not None else "pass")
                if skip is not None:
                    self.reasons[name] = skip
            elif re.match(r"^1\.\.\d+$", line):
                self.plan = int(line[3:])
            elif SUMMARY_LINE.match(line):
                self.summary = line

    def failed(self):
        return {name for name, result in self.results.items() if result == "fail"}

    def describe(self):
        return "command: %s\nexit status: %d\n--- stdout\n%s--- stderr\n%s" % (
            " ".join(self.args), self.status, self.stdout, self.stderr[-4000:])


class Tap:
    """Our own TAP output: one point per check, details as diagnostics on failure."""

    def __init__(self):
        self.number = 0
        self.failures = 0

    def ok(self, condition, name, details=""):
        self.number += 1
        print("%s %d - %s" % ("ok" if condition else "not ok", self.number, name))
        if not condition:
            self.failures += 1
            for line in str(details).splitlines():
                print("# " + line)
        sys.stdout.flush()
        return condition

    def skip(self, name, reason):
        self.number += 1
        print("ok %d - %s # SKIP %s" % (self.number, name, reason))
        sys.stdout.flush()

    def done(self):
        print("1..%d" % self.number)
        return 1 if self.failures else 0
