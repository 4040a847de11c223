#!/usr/bin/env python3
"""make check entry of the Proxmox VE driver benchmarks: the quick mode in TAP, so they keep
running; figures are printed, never asserted."""
import importlib.util
import os
import sys

sys.dont_write_bytecode = True
here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("pve_bench", os.path.join(here, "pve-bench.py"))
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
sys.exit(bench.main(["--quick", "--tap"]))
