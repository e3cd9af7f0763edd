#!/usr/bin/env python3
"""Assemble the results file of bench/family, or print its summary.

    family_collect.py --run-dir DIR --out FILE ...   # called by bench/family
    family_collect.py --print FILE                   # the summary again

Machine information and the wrk entry format are shared with bench/run
(bench/lib/collect.py).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from collect import machine, parse_import, software, write_result, wrk_entry  # noqa: E402

TARGET_SAFETY_RPS = 5000
TARGET_IMAGE_PEAK_RSS_MB = 300


def load(path, default=None):
    if path and os.path.exists(path):
        with open(path) as f:
            text = f.read().strip()
        if text:
            return json.loads(text)
    return default


def runs(path):
    out = []
    if os.path.exists(path):
        with open(path) as f:
            out = [json.loads(l) for l in f if l.strip()]
    return out


def memory(run_dir, interval):
    samples = []
    path = os.path.join(run_dir, "rss.jsonl")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                try:
                    samples.append(json.loads(line))
                except ValueError:
                    pass  # a line cut by the sampler's stop
    mb = lambda kb: round(kb / 1024, 1)  # noqa: E731
    end = load(os.path.join(run_dir, "mem-end.json"), {})
    idle_start = load(os.path.join(run_dir, "mem-idle-start.json"), {})
    idle_before = load(os.path.join(run_dir, "mem-idle-before.json"), {})
    after = load(os.path.join(run_dir, "mem-after-2s.json"), {})
    sampled_peak = max((s["rss_kb"] for s in samples), default=0)
    # VmHWM is the kernel's high-water mark; the sampled VmRSS can read a
    # little above it (the kernel folds per-thread RSS counters in lazily).
    peaks = [v for v in (end.get("hwm_mb"), mb(sampled_peak) if samples else None) if v is not None]
    return {
        "idle_start_rss_mb": idle_start.get("rss_mb"),
        "idle_before_run_rss_mb": idle_before.get("rss_mb"),
        "idle_before_run_hwm_mb": idle_before.get("hwm_mb"),
        "peak_rss_mb": max(peaks) if peaks else None,
        "peak_hwm_mb": end.get("hwm_mb"),
        "peak_sampled_rss_mb": mb(sampled_peak) if samples else None,
        "end_rss_mb": end.get("rss_mb"),
        "rss_2s_after_mb": after.get("rss_mb"),
        "threads_end": end.get("threads"),
        "sample_interval_s": interval,
        "samples": len(samples),
        # [seconds since the sampler started, VmRSS MB]; the sampler starts
        # just before wrk and stops 2 s after it.
        "timeline": [[s["t"], mb(s["rss_kb"])] for s in samples],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--print", dest="print_file")
    for name in ["db", "data-name", "label", "timestamp", "root", "binary", "binary-version", "wrk-version",
                 "postgres-version", "dataset", "duration", "image-duration", "warmup", "timeout", "scenarios",
                 "loadavg", "server-env", "import-log", "inputs-meta", "run-dir", "out", "photo-dir",
                 "photo-codes", "photo-mb"]:
        ap.add_argument("--" + name, default="")
    for name in ["recalls", "threads", "seed", "scan-concurrency", "scan-queue", "scan-timeout-ms",
                 "scan-max-bytes", "photo-rgb"]:
        ap.add_argument("--" + name, type=int, default=0)
    ap.add_argument("--import-wall", type=float, default=0.0)
    ap.add_argument("--rss-interval", type=float, default=0.2)
    a = ap.parse_args()
    if a.print_file:
        with open(a.print_file) as f:
            print_summary(json.load(f))
        return

    rd = a.run_dir
    entries = {"safety": {}, "token": {}, "member": {}, "image": {}}
    for run in runs(os.path.join(rd, "runs.jsonl")):
        e = wrk_entry(run)
        e["wall_s"] = run.get("wall_s")
        ms = run.get("machine_cpu_s")
        e["machine_cores_busy"] = round(ms / e["duration_s"], 2) if ms is not None and e["duration_s"] else None
        # Other work on the machine around the run (empty: none seen).
        e["foreign_activity"] = [f for f in (run.get("foreign") or "").split(",") if f]
        e["loadavg_end"] = run.get("loadavg_end")
        if run.get("status"):
            e["status"] = run["status"]
        entries[run["scenario"]][str(run["connections"])] = e

    image = None
    if entries["image"]:
        (conns, e), = entries["image"].items()
        image = dict(e)
        st = e.get("status") or {}
        image["photos_per_sec"] = round(st.get("200", 0) / e["duration_s"], 2) if e["duration_s"] else None
        image["shed_503"] = st.get("503", 0)
        before = load(os.path.join(rd, "scan-metrics-before.json"), {})
        after = load(os.path.join(rd, "scan-metrics-after.json"), {})
        delta = {k: round(after.get(k, 0) - before.get(k, 0), 3) for k in after}
        image["scan_metrics"] = delta
        n = delta.get("decode_seconds_count") or 0
        image["mean_decode_ms"] = round(delta["decode_seconds_sum"] / n * 1000, 1) if n else None
        image["memory"] = memory(rd, a.rss_interval)

    photos = []
    codes = a.photo_codes.split()
    for code in codes:
        path = os.path.join(a.photo_dir, f"photo-{code}.jpg")
        photos.append({"code": code, "file": os.path.relpath(path, a.root),
                       "bytes": os.path.getsize(path) if os.path.exists(path) else None})

    inputs = load(a.inputs_meta, {})
    inputs.pop("dataset", None)
    inputs["photos"] = photos
    inputs["photo_mb"] = float(a.photo_mb) if a.photo_mb else None
    inputs["photo_colour"] = bool(a.photo_rgb)

    safety_best = None
    for c, e in entries["safety"].items():
        if safety_best is None or e["requests_per_sec"] > safety_best[1]["requests_per_sec"]:
            safety_best = (c, e)
    targets = {}
    if safety_best:
        c, e = safety_best
        targets["safety_check"] = {"target_rps": TARGET_SAFETY_RPS, "best_rps": e["requests_per_sec"],
                                   "at_connections": int(c), "non_2xx": e["non_2xx"],
                                   "meets_target": e["requests_per_sec"] > TARGET_SAFETY_RPS and e["non_2xx"] == 0}
    if image:
        peak = image["memory"]["peak_rss_mb"]
        targets["image_scan"] = {"target_peak_rss_mb": TARGET_IMAGE_PEAK_RSS_MB, "peak_rss_mb": peak,
                                 "connections": image["connections"],
                                 "meets_target": peak is not None and peak < TARGET_IMAGE_PEAK_RSS_MB}

    m = machine(a.root)
    m["loadavg_at_start"] = a.loadavg
    result = {
        "schema": 1, "kind": "family", "label": a.label or None, "timestamp": a.timestamp,
        "db": a.db, "data": a.data_name, "recalls": a.recalls,
        "machine": m,
        "software": software(a),
        "settings": {
            "scenarios": a.scenarios.split(","), "duration": a.duration, "image_duration": a.image_duration,
            "warmup": a.warmup, "wrk_timeout": a.timeout, "threads": a.threads,
            "connections": {k: [int(c) for c in v] for k, v in entries.items() if v},
            "scan": {"concurrency": a.scan_concurrency, "queue": a.scan_queue, "timeout_ms": a.scan_timeout_ms,
                     "max_bytes": a.scan_max_bytes},
            "rss_interval_s": a.rss_interval,
            "server_env": [e for e in a.server_env.split(" ") if e],
            "load_model": "closed-loop (wrk): each connection sends its next request when the previous "
                          "answer arrives; wrk runs on the same machine as the server",
        },
        "dataset": {"path": os.path.relpath(a.dataset, a.root), "seed": a.seed if a.data_name != "sample" else None,
                    "bytes": os.path.getsize(a.dataset)},
        "import": parse_import(a.import_log, a.import_wall) if a.data_name != "sample" else None,
        "inputs": inputs,
        "preflight": {"safety": load(os.path.join(rd, "preflight-safety.json")),
                      "member": load(os.path.join(rd, "preflight-member.json")),
                      "photos": load(os.path.join(rd, "preflight-photos.json"))},
        "servers": {name: load(os.path.join(rd, f"stats-{name}.json"))
                    for name in ("safety", "image") if os.path.exists(os.path.join(rd, f"stats-{name}.json"))},
        "safety": entries["safety"] or None,
        "token": entries["token"] or None,
        "member": entries["member"] or None,
        "image": image,
        "targets": targets,
    }
    write_result(a.out, result)


def print_summary(r):
    print(f"family benchmark, {r['db']}, {r['data']} ({r['recalls']:,} recalls):")
    for name, label in (("safety", "safety check (anonymous)"), ("token", "safety check (signed in)"),
                        ("member", "safety check (member)")):
        for c, e in sorted((r.get(name) or {}).items(), key=lambda kv: int(kv[0])):
            lat = e["latency_ms"]
            print(f"  {label:26s} {int(c):5d} conn: {e['requests_per_sec']:9,.0f} req/s  p50 {lat['p50']:.2f}  "
                  f"p99 {lat['p99']:.2f} ms  non-2xx {e['non_2xx']}  server {e['server_cores_busy']} cores"
                  + (f"  [other work: {','.join(e['foreign_activity'])}]" if e.get("foreign_activity") else ""))
    im = r.get("image")
    if im:
        lat, mem, st = im["latency_ms"], im["memory"], im.get("status") or {}
        print(f"  image scan {im['connections']} conn, scan_concurrency {r['settings']['scan']['concurrency']}, "
              f"queue {r['settings']['scan']['queue']}: {im['photos_per_sec']} photos/s  p50 {lat['p50']:.0f}  "
              f"p99 {lat['p99']:.0f} ms  status {st}  mean decode {im.get('mean_decode_ms')} ms  "
              f"server {im['server_cores_busy']} cores"
              + (f"  [other work: {','.join(im['foreign_activity'])}]" if im.get("foreign_activity") else ""))
        print(f"  image scan memory: idle {mem['idle_start_rss_mb']} MB -> {mem['idle_before_run_rss_mb']} MB after "
              f"preflight; peak RSS {mem['peak_rss_mb']} MB (VmHWM {mem.get('peak_hwm_mb')} MB, sampled max "
              f"{mem['peak_sampled_rss_mb']} MB); "
              f"end {mem['end_rss_mb']} MB, 2 s later {mem['rss_2s_after_mb']} MB")
    for name, t in (r.get("targets") or {}).items():
        print(f"  target {name}: {'met' if t['meets_target'] else 'NOT met'} ({json.dumps(t)})")


if __name__ == "__main__":
    main()
