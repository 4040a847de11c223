#!/usr/bin/env python3
"""make check: the load, soak and crash tests of tests/soak/soaklib.py at a size that takes
seconds (tests/soak/full.py runs the real sizes from .ci/run)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soaklib  # noqa: E402

sys.exit(soaklib.main(guests=1000, requests=10000, procs=3, rounds=3, kills=8,
                      kill_guests=1000))
