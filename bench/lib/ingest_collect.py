#!/usr/bin/env python3
"""Assemble the results file of bench/ingest, or print one.

    ingest_collect.py --out FILE --pulls pulls.jsonl --phases phases.jsonl ...   # called by bench/ingest
    ingest_collect.py --print FILE                                               # short summary

Machine information and wrk entries come from collect.py (the same fields as
bench/run's results). Not meant to be run by hand except with --print.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from collect import fmt, load, machine, parse_import, pct, software, write_result, wrk_entry  # noqa: E402

TARGET_RECALLS_PER_SEC = 10000.0  # the target, end to end, per database
TARGET_PCT = 50.0  # an ingest raises the search p99 by less than this


def lines(path):
    if not path or not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def ingest_during(run_dir, phase):
    """The pulls that ran during a search phase, and the recalls stored
    inside the search's time window (the server's counter read at its
    ends)."""
    runs = lines(os.path.join(run_dir, f"runs-{phase}.jsonl"))
    window = load(os.path.join(run_dir, f"window-{phase}.json"))
    if not runs or not window:
        return None
    w0, w1 = (float(x) for x in window["window"])
    # The server's count of records in committed pages, read at the
    # window's ends: exact, however the pull's pace varied.
    counted = window["fetched_total"]
    stored = float(counted[1] - counted[0])
    return {
        "pulls": len(runs),
        "fetched": sum(r["fetched"] for r in runs),
        "inserted": sum(r["inserted"] for r in runs),
        "pages": sum(r["pages"] for r in runs),
        "statuses": sorted({r["status"] for r in runs}),
        "recalls_in_window": round(stored),
        "recalls_per_sec_in_window": round(stored / (w1 - w0), 1) if w1 > w0 else None,
        "per_pull_recalls_per_sec": [r["recalls_per_sec"] for r in runs],
    }


def build(a):
    pulls = lines(a.pulls)
    ok = [p for p in pulls if p["status"] == "succeeded"]
    rates = [p["recalls_per_sec"] for p in ok]
    new = [p["recalls_per_sec"] for p in ok if p["inserted"] >= p["updated"]]
    changed = [p["recalls_per_sec"] for p in ok if p["inserted"] < p["updated"]]
    throughput = {
        "pulls": len(pulls),
        "recalls_per_pull": a.feed_records,
        "recalls_per_sec": rates,
        "insert_recalls_per_sec": new,
        "update_recalls_per_sec": changed,
        "best_recalls_per_sec": max(rates) if rates else None,
        "mean_recalls_per_sec": round(sum(rates) / len(rates), 1) if rates else None,
        "target_recalls_per_sec": TARGET_RECALLS_PER_SEC,
        "meets_target": bool(rates) and min(rates) >= TARGET_RECALLS_PER_SEC,
        "server_cores_busy": [round(p["server_cpu_s"] / p["server_seconds"], 2)
                              if p.get("server_seconds") else None for p in pulls],
    }
    phases = {}
    for run in lines(a.phases):
        entry = wrk_entry(run)
        # Pages whose rows searches waited to read back from the database.
        entry["index_writes_left_to_searches"] = run.get("index_writes_left_to_searches")
        during = ingest_during(a.run_dir, run["phase"])
        if during:
            entry["ingest"] = during
        phases[run["phase"]] = entry
    comparison = {}
    # The conservative baseline: the search-alone run with the lower p99.
    baselines = [phases[k] for k in ("search_alone", "search_alone_again") if k in phases]
    alone = min(baselines, key=lambda e: e["latency_ms"]["p99"]) if baselines else None
    for name, key in [("search_with_ingest", "full_speed"), ("search_with_paced_ingest", "paced")]:
        with_ingest = phases.get(name)
        if not (alone and with_ingest):
            continue
        a99, w99 = alone["latency_ms"]["p99"], with_ingest["latency_ms"]["p99"]
        inc = pct(w99, a99)
        comparison[key] = {
            "search_p99_alone_ms": a99,
            "search_p99_alone_runs_ms": [e["latency_ms"]["p99"] for e in baselines],
            "search_p99_with_ingest_ms": w99,
            "search_p99_increase_pct": inc,
            "search_p99_target_pct": TARGET_PCT,
            "meets_target": inc is not None and inc < TARGET_PCT,
            "search_p50_increase_pct": pct(with_ingest["latency_ms"]["p50"], alone["latency_ms"]["p50"]),
            "search_rps_change_pct": pct(with_ingest["requests_per_sec"], alone["requests_per_sec"]),
            "ingest_recalls_per_sec_during_search": (with_ingest.get("ingest") or {}).get("recalls_per_sec_in_window"),
        }
    return {
        "schema": 1,
        "kind": "ingest",
        "label": a.label or None,
        "timestamp": a.timestamp,
        "db": a.db,
        "recalls": a.recalls,
        "machine": dict(machine(a.root), loadavg_at_start=a.loadavg or None),
        "software": software(a),
        "settings": {
            "feed": "bench/lib/ingest_feed.py: openFDA food enforcement pages rendered once; a source's first "
                    "pull inserts its reports, every later pull updates all of them",
            "feed_records": a.feed_records, "page_size": a.page_size, "paced_politeness_ms": a.paced_ms,
            "duration": a.duration, "warmup": a.warmup, "wrk_timeout": a.timeout, "threads": a.threads,
            "connections": a.connections,
            "server_env": [e for e in a.server_env.split(" ") if e],
            "load_model": "closed-loop (wrk) searches; pulls of a local feed started through "
                          "POST /api/v1/admin/ingest/{source}; wrk, the feed and the server share the CPUs",
        },
        "dataset": {"path": os.path.relpath(a.dataset, a.root), "seed": a.seed,
                    "bytes": os.path.getsize(a.dataset)},
        "import": parse_import(a.import_log, 0.0),
        "pulls": pulls,
        "throughput": throughput,
        "phases": phases,
        "comparison": comparison,
        "database_size_bytes": a.database_bytes,
        "server": dict(load(a.server_stats) or {}, log_errors=a.server_errors, log_warnings=a.server_warnings,
                       log_sample=log_sample(a.log_sample)),
    }


def log_sample(path):
    """The first ERROR / WARN lines of the server log (at most 5, 300 characters each)."""
    if not path or not os.path.exists(path):
        return []
    with open(path, encoding="utf-8", errors="replace") as f:
        return [line.rstrip()[:300] for line in f if line.strip()][:5]


def summary(r):
    t, p, c, s = r["throughput"], r["phases"], r["comparison"], r["settings"]
    out = [f"ingest benchmark, {r['db']}, {r['recalls']:,} recalls imported first, pulls of "
           f"{s['feed_records']:,} records in pages of {s['page_size']}, "
           f"{r['machine'].get('nproc')} CPUs shared by wrk, the feed and the server"]
    for i, pull in enumerate(r["pulls"], 1):
        out.append(f"  (a) pull {i}: {pull['fetched']:,} fetched, {pull['inserted']:,} inserted, "
                   f"{pull['updated']:,} updated in "
                   f"{fmt(pull['server_seconds'])} s = {fmt(pull['recalls_per_sec'], ' recalls/s', 0)} "
                   f"({pull['pages']} pages, server {fmt(pull.get('server_cpu_s'), ' CPU s', 1)})")
    verdict = "meets" if t["meets_target"] else "MISSES"
    out.append(f"      {verdict} the {t['target_recalls_per_sec']:,.0f} recalls/s target "
               f"(best {fmt(t['best_recalls_per_sec'], '', 0)}, mean {fmt(t['mean_recalls_per_sec'], '', 0)})")
    for name, title in [("search_alone", "(b) search alone"), ("search_with_ingest", "(c) search + pulls"),
                        ("search_alone_again", "(b2) search alone"), ("search_with_paced_ingest", "(d) search + paced")]:
        e = p.get(name)
        if not e:
            continue
        lat = e["latency_ms"]
        line = (f"  {title:<19} {e['connections']:>4} conn  {e['requests_per_sec']:>9,.1f} req/s  "
                f"p50 {fmt(lat['p50'])}  p95 {fmt(lat['p95'])}  p99 {fmt(lat['p99'])} ms")
        if e["non_2xx"] or e["socket_errors"]:
            line += f"  non-2xx {e['non_2xx']:,}  socket errors {e['socket_errors']:,}"
        ing = e.get("ingest")
        if ing:
            line += (f"  [{ing['pulls']} pulls, {fmt(ing['recalls_per_sec_in_window'], ' recalls/s', 0)} "
                     f"stored meanwhile]")
        out.append(line)
    for key, title in [("full_speed", "full-speed pulls"), ("paced", "paced pulls")]:
        cmp = c.get(key)
        if cmp:
            verdict = "meets" if cmp["meets_target"] else "MISSES"
            out.append(f"  search p99 {fmt(cmp['search_p99_alone_ms'])} -> {fmt(cmp['search_p99_with_ingest_ms'])} ms "
                       f"during {title}: {fmt(cmp['search_p99_increase_pct'], ' %', 1)} ({verdict} the "
                       f"< {cmp['search_p99_target_pct']:.0f} % target); req/s {fmt(cmp['search_rps_change_pct'], ' %', 1)}")
    srv = r.get("server") or {}
    if srv.get("log_errors"):
        out.append(f"  server log: {srv['log_errors']} ERROR lines")
    return "\n".join(out)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--print":
        with open(sys.argv[2]) as f:
            print(summary(json.load(f)))
        return
    ap = argparse.ArgumentParser()
    for name in ["db", "label", "timestamp", "root", "binary", "binary-version", "wrk-version",
                 "postgres-version", "dataset", "duration", "warmup", "timeout", "server-env", "import-log",
                 "pulls", "phases", "run-dir", "server-stats", "out", "loadavg", "log-sample"]:
        ap.add_argument("--" + name, default="")
    for name in ["recalls", "threads", "seed", "connections", "feed-records", "page-size", "paced-ms",
                 "server-errors", "server-warnings", "database-bytes"]:
        ap.add_argument("--" + name, type=int, default=0)
    a = ap.parse_args()
    result = build(a)
    write_result(a.out, result)


if __name__ == "__main__":
    main()
