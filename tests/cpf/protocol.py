#!/usr/bin/env python3
"""prlkit-cpf protocol probes: every malformed or unexpected request gets exactly one reply
with the exact code of CPF.md §2, and the same process then still answers
provider/initialize. Also: stdout carries nothing but one valid envelope per request."""

import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpfharness import Provider, Tap, SIX_CAPS, sim_settings, test_tmpdir  # noqa: E402

INIT = b'{"method":"provider/initialize","params":{}}'

tap = Tap()
state = test_tmpdir()
p = Provider(["--driver", "sim", "--log-level", "debug"])


def error_code(reply):
    return reply.get("error", {}).get("code") if isinstance(reply, dict) else None


def check_init_follows(what):
    r = p.raw_request(INIT)
    caps = r.get("result", {}).get("capabilities", {})
    tap.ok(r.get("result", {}).get("version") == "1.0.0" and set(caps) == set(SIX_CAPS),
           "initialize answered after %s" % what, r)


def probe(what, raw, code, text=None):
    try:
        r = p.raw_request(raw)
    except Exception as e:  # a crash or a hang is a failure, not a test error
        tap.ok(False, what, "no reply: %s" % e)
        return None
    good = error_code(r) == code
    if good and text:
        good = text in r["error"]["message"]
    tap.ok(good, "%s -> %s" % (what, code), r)
    check_init_follows(what)
    return r


def probe_ok(what, raw):
    r = p.raw_request(raw)
    tap.ok("result" in r, "%s -> result" % what, r)
    return r


# ---- framing and parse errors (before connect) ----
probe("malformed JSON", b'{"method": "provider/initialize",', -32700)
probe("malformed JSON (bare word)", b'hello', -32700)
probe("non-object JSON: array", b'[1, 2, 3]', -32700)
probe("non-object JSON: string", b'"provider/initialize"', -32700)
probe("non-object JSON: number", b'42', -32700)
probe("non-object JSON: null", b'null', -32700)
probe("blank line", b'', -32700)
probe("white-space line", b'   \t  ', -32700)
probe("CR-only line", b'\r', -32700)
probe("invalid UTF-8", b'{"method":"provider/initialize","x":"\xff\xfe"}', -32700)
probe("invalid UTF-8 (truncated sequence)", b'{"method":"provider/initialize","x":"\xe2\x82"}',
      -32700)
probe("NUL byte", b'{"method":"provider/initialize"}\x00', -32700)
probe("10,000-deep arrays", b'[' * 10000 + b']' * 10000, -32700)
probe("10,000-deep objects", b'{"a":' * 10000 + b'1' + b'}' * 10000, -32700)
probe("10,000-deep inside params",
      b'{"method":"provider/initialize","params":' + b'[' * 10000 + b']' * 10000 + b'}', -32700)
probe("unclosed 10,000-deep", b'[' * 10000, -32700)
big = b'{"method":"provider/initialize","params":{"pad":"' + b'x' * (16 * 1024 * 1024) + b'"}}'
probe("16 MiB line", big, -32700, "request too large")
del big
probe("missing method", b'{"params":{}}', -32601)
probe("method not a string", b'{"method":42}', -32601)
probe("method null", b'{"method":null}', -32601)
probe("empty method", b'{"method":""}', -32601)
probe("unknown method", b'{"method":"guests/frobnicate","params":{}}', -32601)
probe("unknown method (provider/)", b'{"method":"provider/shutdown"}', -32601)

# ---- tolerated input ----
r = probe_ok("UTF-8 BOM before the request", b'\xef\xbb\xbf' + INIT)
r = probe_ok("CRLF line end", INIT + b'\r\n')
r = probe_ok("surrounding white space", b'  \t ' + INIT + b' \t ')
r = probe_ok("method in mixed case", b'{"method":"Provider/Initialize"}')
r = probe_ok("members in any order, extra members ignored",
             b'{"params":{},"jsonrpc":"2.0","id":7,"method":"provider/initialize"}')
tap.ok(set(r) == {"result"}, "extra members are not echoed", r)
r = probe_ok("params null", b'{"method":"provider/initialize","params":null}')

# ---- before connect ----
for m, params in (("guests/list", {}), ("guests/get", {"id": "1"}),
                  ("hosts/list", {}), ("guests/control", {"id": "1", "control": "start"}),
                  ("guests/clone", {"id": "1", "name": "x"}), ("tasks/get", {"id": "garbage"}),
                  ("guests/snapshots/exists", {"id": "1", "name": "s"}),
                  ("provider/disconnect", {})):
    probe("%s before connect" % m, json.dumps({"method": m, "params": params}).encode(),
          -32603, "not connected: call provider/connect first")

# ---- connect ----
probe("connect without params", b'{"method":"provider/connect"}', -32602)
probe("connect without settings", b'{"method":"provider/connect","params":{}}', -32602)
probe("connect with settings null", b'{"method":"provider/connect","params":{"settings":null}}',
      -32602)
probe("connect with settings a string",
      b'{"method":"provider/connect","params":{"settings":"sim"}}', -32602)
probe("connect with a nested setting",
      json.dumps({"method": "provider/connect",
                  "params": {"settings": sim_settings(state, speed={"x": 1})}}).encode(), -32602)
probe("connect with an invalid speed",
      json.dumps({"method": "provider/connect",
                  "params": {"settings": sim_settings(state, speed="fast")}}).encode(), -32602)
probe("connect with an unknown driver",
      json.dumps({"method": "provider/connect",
                  "params": {"settings": {"driver": "no-such-driver"}}}).encode(), -32602)
r = p.connect(sim_settings(state))
tap.ok(r == {"result": {}}, "connect to sim", r)

# ---- params after connect ----
guests = p.result("guests/list")["guests"]
tap.ok(isinstance(guests, list) and guests and all(isinstance(g, str) for g in guests),
       "guests/list returns ids as strings", guests)
gid = guests[0]
tmpl = None
for g in guests:
    if p.result("guests/get", {"id": g})["is_template"]:
        tmpl = g
        break
tap.ok(tmpl is not None, "the sim inventory has a template")
vm = next(g for g in guests if g != tmpl)


def req(method, params):
    return json.dumps({"method": method, "params": params}).encode()


probe("params an array", b'{"method":"guests/get","params":["x"]}', -32602)
probe("params a string", b'{"method":"guests/list","params":"all"}', -32602)
probe("guests/get without id", req("guests/get", {}), -32602)
probe("guests/get id null", req("guests/get", {"id": None}), -32602)
probe("guests/get id as number", req("guests/get", {"id": 101}), -32602)
probe("guests/get id as bool", req("guests/get", {"id": True}), -32602)
probe("guests/get id as object", req("guests/get", {"id": {"id": gid}}), -32602)
probe("guests/get id blank", req("guests/get", {"id": "  "}), -32602)
probe("guests/get id empty array", req("guests/get", {"id": []}), -32602)
probe("guests/get id two-element array", req("guests/get", {"id": [gid, gid]}), -32602)
probe("guests/get id array of a number", req("guests/get", {"id": [5]}), -32602)
# U+0000 is valid JSON; a C string would end at it and act on another guest.
probe("guests/get id with an embedded U+0000", req("guests/get", {"id": gid + "\u0000x"}),
      -32602, "NUL")
probe("guests/control id with an embedded U+0000",
      req("guests/control", {"id": vm + "\u0000", "control": "delete"}), -32602, "NUL")
probe("method with an embedded U+0000", b'{"method":"guests/list\\u0000x"}', -32601, "NUL")
probe_ok("U+0000 in an ignored member", b'{"method":"guests/list","id":"a\\u0000b"}')
r = probe_ok("guests/get id one-element array", req("guests/get", {"id": [gid]}))
tap.ok(r.get("result", {}).get("id") == gid, "one-element array id resolves the guest", r)
probe("guests/get unknown guest", req("guests/get", {"id": "no-such-guest-104"}), -32603,
      "PRL_ERR_VM_UUID_NOT_FOUND")
probe("guests/control without control", req("guests/control", {"id": vm}), -32602)
probe("guests/control control a number", req("guests/control", {"id": vm, "control": 1}),
      -32602)
probe("guests/control unknown control", req("guests/control", {"id": vm, "control": "explode"}),
      -32602)
probe("guests/control unknown guest", req("guests/control", {"id": "nope", "control": "start"}),
      -32603)
probe("guests/convert without is_template", req("guests/convert", {"id": vm}), -32602)
probe("guests/convert is_template 'maybe'",
      req("guests/convert", {"id": vm, "is_template": "maybe"}), -32602)
probe("guests/convert is_template 1", req("guests/convert", {"id": vm, "is_template": 1}),
      -32602)
r = probe_ok("guests/convert is_template \"false\" on a VM",
             req("guests/convert", {"id": vm, "is_template": "false"}))
tap.ok(isinstance(r.get("result", {}).get("task_id"), str), "convert returns a task id", r)
probe("guests/clone without name", req("guests/clone", {"id": tmpl}), -32602)
probe("guests/clone blank name", req("guests/clone", {"id": tmpl, "name": " "}), -32602)
probe("guests/clone name a number", req("guests/clone", {"id": tmpl, "name": 5}), -32602)
probe("guests/clone snapshot a number",
      req("guests/clone", {"id": tmpl, "name": "x", "snapshot": 3}), -32602)
probe("guests/clone unknown snapshot",
      req("guests/clone", {"id": tmpl, "name": "x", "snapshot": "NO_SUCH_SNAPSHOT"}), -32602)
probe("guests/clone is_link_clone 'sometimes'",
      req("guests/clone", {"id": tmpl, "name": "x", "is_link_clone": "sometimes"}), -32602)
probe("snapshots/create without name", req("guests/snapshots/create", {"id": vm}), -32602)
probe("snapshots/revert unknown snapshot",
      req("guests/snapshots/revert", {"id": vm, "name": "NO_SUCH_SNAPSHOT"}), -32602)
probe("snapshots/exists name a list",
      req("guests/snapshots/exists", {"id": vm, "name": ["a"]}), -32602)

# ---- garbage task ids ----
for what, tid in (("word", "garbage"), ("empty", ""), ("number", 12345), ("null", None),
                  ("sim-looking", "sim-task-999999"), ("versioned-looking", "pk1:sim:xyz"),
                  ("JSON text", '{"a":1}'), ("control characters", "abc\u0001def"),
                  ("very long", "A" * 5000), ("base64-ish", "cGsxOnNpbTp4eXo="),
                  ("unicode", "t\u00e2che-\u2603"), ("U+0000 inside", "pk1\u0000:sim")):
    probe("tasks/get garbage id (%s)" % what, req("tasks/get", {"id": tid}), -32602)

# ---- stdout purity ----
rc = p.close()
tap.ok(rc == 0, "exit status 0 on EOF", rc)
tap.ok(not p.bad_lines, "every stdout line is a valid reply envelope", p.bad_lines[:3])
tap.ok(len(p.replies) == p.requests, "one reply per request line (%d/%d)" %
       (len(p.replies), p.requests))
tap.ok(p.trailing == b"", "nothing on stdout after the last reply", p.trailing[:200])
err = p.stderr_text()
tap.ok("CRITICAL" not in err and "leaked" not in err.lower(), "no criticals or leaks logged",
       "\n".join(line for line in err.splitlines() if "CRITICAL" in line or "leak" in line)[:2000])
tap.ok(" 0 handles open at exit" in err, "no prlkit handle left open at exit",
       [line for line in err.splitlines() if "handles open" in line])

# Several requests in one write, the last without a newline: still one reply each.
q = Provider(["--driver", "sim"])
q.send_raw(INIT + b"\n\n" + INIT + b"\r\n" + INIT)
q.requests += 4
q.proc.stdin.close()    # the last line ends at EOF
replies = [q.read_reply() for _ in range(4)]
tap.ok([("result" in r) for r in replies] == [True, False, True, True] and
       replies[1]["error"]["code"] == -32700, "pipelined lines and a last line without newline",
       replies)
tap.ok(q.close() == 0, "exit 0 after a last line without newline")

sys.exit(tap.done())
