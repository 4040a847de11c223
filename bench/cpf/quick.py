#!/usr/bin/env python3
"""make check entry of the prlkit-cpf benchmarks: the quick mode in TAP, so the benchmarks
keep running; timings are printed, never asserted."""
import importlib.util
import os
import sys

sys.dont_write_bytecode = True
here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("cpf_bench", os.path.join(here, "cpf-bench.py"))
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
sys.exit(bench.main(["--quick", "--tap"]))
