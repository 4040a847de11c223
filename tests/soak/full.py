#!/usr/bin/env python3
"""The load, soak and crash tests of tests/soak/soaklib.py at full size (doc/reliability.md):
10,000 sim guests answering 100,000 polling requests, 8 providers running RAS workflows
on one state, 50 SIGKILLs during writes. Run by tests/soak/run.sh (.ci/run); prints TAP
and SOAK-FIGURES lines with the measurements.

Sizes can be overridden: SOAK_GUESTS, SOAK_REQUESTS, SOAK_PROCS, SOAK_ROUNDS, SOAK_KILLS."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soaklib  # noqa: E402

env = lambda name, default: int(os.environ.get(name, default))
sys.exit(soaklib.main(guests=env("SOAK_GUESTS", 10000), requests=env("SOAK_REQUESTS", 100000),
                      procs=env("SOAK_PROCS", 8), rounds=env("SOAK_ROUNDS", 6),
                      kills=env("SOAK_KILLS", 50), kill_guests=env("SOAK_KILL_GUESTS", 2000)))
