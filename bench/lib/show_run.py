#!/usr/bin/env python3
"""Print one wrk BENCH_RESULT (JSON, argv[1]) as a short progress line."""
import json
import sys

r = json.loads(sys.argv[1])
lat = {k: v / 1000 for k, v in r["latency_us"].items()}
errors = sum(r["socket_errors"].values())
print(f"    {r['requests_per_sec']:10.1f} req/s  p50 {lat['p50']:.2f} ms  p95 {lat['p95']:.2f} ms  "
      f"p99 {lat['p99']:.2f} ms  max {lat['max']:.1f} ms  non-2xx {r['non_2xx']}  socket errors {errors}")
