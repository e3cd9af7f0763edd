#!/usr/bin/env python3
"""Sample a process's memory every INTERVAL seconds until it exits or we are stopped.

    family_rss.py PID OUT.jsonl [--interval 0.2]

Appends one JSON line per sample: {"t": seconds since start, "rss_kb": VmRSS,
"hwm_kb": VmHWM, "threads": n} read from /proc/PID/status, flushed at once so
the file is complete whenever the sampler is killed (bench/family sends
SIGTERM after the run). Exits quietly when the process is gone.
"""
import json
import signal
import sys
import time


def read(pid):
    stats = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                stats[key] = int(value.split()[0])
    return stats


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    pid, out = int(sys.argv[1]), sys.argv[2]
    interval = float(sys.argv[4]) if len(sys.argv) >= 5 and sys.argv[3] == "--interval" else 0.2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    start = time.monotonic()
    next_at = start
    with open(out, "a") as f:
        while True:
            try:
                s = read(pid)
            except (OSError, ValueError):
                return
            f.write(json.dumps({"t": round(time.monotonic() - start, 3), "rss_kb": s.get("VmRSS", 0),
                                "hwm_kb": s.get("VmHWM", 0), "threads": s.get("Threads", 0)}) + "\n")
            f.flush()
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))


if __name__ == "__main__":
    main()
