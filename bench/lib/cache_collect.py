#!/usr/bin/env python3
"""Assemble the results file of bench/cache, or print one.

    cache_collect.py --out FILE --phases phases.jsonl ...   # called by bench/cache
    cache_collect.py --print FILE                           # short summary of a results file
    cache_collect.py --show-delta BEFORE_JSON AFTER_JSON    # one progress line (bench/cache)

Machine information comes from collect.py (the same fields as bench/run's
results). Not meant to be run by hand except with --print.
"""
import argparse
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in bench/lib
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from collect import fmt, load, machine, parse_import, software, write_result, wrk_entry  # noqa: E402

# The targets.
OVERHEAD_TARGET_PCT = 5.0        # cache + rate limiter cost, share of search req/s
BARCODE_TARGET_RPS = 20000.0     # barcode lookups answered from the cache
BARCODE_TARGET_P99_MS = 5.0
ZIPF_TARGET_HIT_RATIO = 0.90     # search hit ratio on a Zipf query mix


def counts(metrics, cls):
    r = ((metrics or {}).get("requests") or {}).get(cls) or {}
    return r.get("hit", 0), r.get("miss", 0)


def delta(before, after):
    """Per class: hits, misses, hit ratio and evictions between two snapshots."""
    out = {}
    classes = set(((after or {}).get("requests") or {})) | set(((after or {}).get("evictions") or {}))
    for cls in sorted(classes):
        h0, m0 = counts(before, cls)
        h1, m1 = counts(after, cls)
        ev = ((after or {}).get("evictions") or {}).get(cls, 0) - ((before or {}).get("evictions") or {}).get(cls, 0)
        hits, misses = h1 - h0, m1 - m0
        if hits or misses or ev:
            out[cls] = {"hits": hits, "misses": misses,
                        "hit_ratio": round(hits / (hits + misses), 4) if hits + misses else None,
                        "evictions": ev}
    return out


def show_delta(before, after):
    d = delta(json.loads(before), json.loads(after))
    if not d:
        return "    cache: no lookups counted (cache off, or cache_requests_total not exported)"
    parts = []
    for cls, e in d.items():
        ratio = "–" if e["hit_ratio"] is None else f"{e['hit_ratio'] * 100:.1f} %"
        part = f"{cls} {e['hits']:,} hits / {e['misses']:,} misses ({ratio})"
        if e["evictions"]:
            part += f", {e['evictions']:,} evictions"
        parts.append(part)
    return "    cache: " + "; ".join(parts)


def entry(run):
    return {
        **wrk_entry(run),
        "cache": delta(run.get("metrics_before"), run.get("metrics_after")),
        "server_name": run.get("server"),
        "server_env": run.get("server_env"),
    }


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [l.rstrip("\n") for l in f if l.strip()]


def walked(walk, lines):
    """The lines the wrk threads sent: per thread from its start, in order."""
    n = len(lines)
    seq = []
    for t in (walk or {}).get("threads", []):
        start, sent = t["start"], t["sent"]
        seq.extend(lines[(start + i) % n] for i in range(sent))
    return seq


def walk_info(walk, lines):
    threads = (walk or {}).get("threads", [])
    n = len(lines)
    slice_len = n // max(1, len(threads)) if threads else n
    sent = [t["sent"] for t in threads]
    seq = walked(walk, lines)
    return {
        "lines": n,
        "slice_per_thread": slice_len,
        "sent_per_thread": sent,
        # a thread that sent more than its slice reached lines another thread
        # had sent (or will send): repeated bodies, which can be cache hits
        "wrapped": any(s > slice_len for s in sent),
        "distinct_sent": len(set(seq)),
        "sent": len(seq),
    }


def mean(xs):
    return sum(xs) / len(xs) if xs else None


def pct(new, old):
    return round((new - old) / old * 100.0, 2) if old else None


def overhead_section(runs, lines):
    by = {"A": [], "B": []}
    for run in runs:
        e = entry(run)
        e["config"], e["round"] = run["config"], run["round"]
        e["walk"] = walk_info(run.get("walk"), lines) if lines is not None else None
        by[run["config"]].append(e)
    summary = {}
    for cfg, es in by.items():
        if not es:
            continue
        summary[cfg] = {
            "rounds": len(es),
            "requests_per_sec": [e["requests_per_sec"] for e in es],
            "p99_ms": [e["latency_ms"]["p99"] for e in es],
            "p50_ms": [e["latency_ms"]["p50"] for e in es],
            "mean_requests_per_sec": round(mean([e["requests_per_sec"] for e in es]), 1),
            "mean_p50_ms": round(mean([e["latency_ms"]["p50"] for e in es]), 3),
            "mean_p95_ms": round(mean([e["latency_ms"]["p95"] for e in es]), 3),
            "mean_p99_ms": round(mean([e["latency_ms"]["p99"] for e in es]), 3),
            "mean_server_cores_busy": round(mean([e["server_cores_busy"] or 0 for e in es]), 2),
            "non_2xx": sum(e["non_2xx"] for e in es),
            "socket_errors": sum(e["socket_errors"] for e in es),
            "cache_hits": sum(((e["cache"].get("search") or {}).get("hits") or 0) for e in es),
            "cache_misses": sum(((e["cache"].get("search") or {}).get("misses") or 0) for e in es),
            "walk_wrapped": any((e["walk"] or {}).get("wrapped") for e in es),
        }
    out = {"configs": {
        "A": "cache off, rate limit off",
        "B": "cache on, rate limit on (every quota so high that nothing is refused)"},
        "runs": by["A"] + by["B"], **summary}
    out["runs"].sort(key=lambda e: (e["round"], e["config"]))
    if "A" in summary and "B" in summary:
        a, b = summary["A"], summary["B"]
        ov = round((a["mean_requests_per_sec"] - b["mean_requests_per_sec"]) / a["mean_requests_per_sec"] * 100, 2) \
            if a["mean_requests_per_sec"] else None
        # Noise yardstick: how far the rounds of one configuration differ.
        spread = [round((max(s["requests_per_sec"]) - min(s["requests_per_sec"])) / s["mean_requests_per_sec"] * 100, 1)
                  if s["mean_requests_per_sec"] and s["rounds"] > 1 else None for s in (a, b)]
        per_round = []
        for ea, eb in zip(by["A"], by["B"]):
            per_round.append(pct(eb["requests_per_sec"], ea["requests_per_sec"]))
        out.update({
            "overhead_pct": ov,
            "overhead_pct_per_round": [None if x is None else round(-x, 2) for x in per_round],
            "p99_change_pct": pct(b["mean_p99_ms"], a["mean_p99_ms"]),
            "rps_spread_pct": {"A": spread[0], "B": spread[1]},
            "target_pct": OVERHEAD_TARGET_PCT,
            "meets_target": ov is not None and ov < OVERHEAD_TARGET_PCT,
            "valid": b["cache_hits"] == 0 and b["non_2xx"] == 0 and a["non_2xx"] == 0
            and not a["walk_wrapped"] and not b["walk_wrapped"],
        })
    return out


def barcode_section(run, fill):
    e = entry(run)
    c = e["cache"].get("barcode") or {}
    hr = c.get("hit_ratio")
    lat = e["latency_ms"]
    e.update({
        "hits": c.get("hits", 0), "misses": c.get("misses", 0), "hit_ratio": hr,
        "fill": None if not fill else {
            **fill["fill"], "distinct_codes": fill["distinct_codes"],
            "cache": delta(fill.get("metrics_before"), fill.get("metrics_after")),
        },
        "target_rps": BARCODE_TARGET_RPS, "target_p99_ms": BARCODE_TARGET_P99_MS,
        "meets_rps_target": e["requests_per_sec"] > BARCODE_TARGET_RPS,
        "meets_p99_target": lat["p99"] < BARCODE_TARGET_P99_MS,
    })
    e["meets_target"] = e["meets_rps_target"] and e["meets_p99_target"]
    return e


def timeline(path):
    """Per-second samples of the search hit/miss counters during the Zipf run."""
    if not path or not os.path.exists(path):
        return None
    samples = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3:
                try:
                    samples.append((float(parts[0]), int(parts[1]), int(parts[2])))
                except ValueError:
                    pass
    if len(samples) < 2:
        return None
    points = []
    t_first = None
    for (t0, h0, m0), (t1, h1, m1) in zip(samples, samples[1:]):
        dh, dm = h1 - h0, m1 - m0
        if dh + dm <= 0:
            continue
        if t_first is None:
            t_first = t0
        points.append({"t_s": round(t1 - t_first, 2), "requests": dh + dm,
                       "hit_ratio": round(dh / (dh + dm), 4)})
    if not points:
        return None
    half = len(points) // 2
    tail = points[half:]
    tail_req = sum(p["requests"] for p in tail)
    tail_hits = sum(p["requests"] * p["hit_ratio"] for p in tail)
    return {"interval_s": 1, "points": points,
            "hit_ratio_second_half": round(tail_hits / tail_req, 4) if tail_req else None,
            "hit_ratio_first_interval": points[0]["hit_ratio"]}


def zipf_section(run, inputs_dir, samples):
    e = entry(run)
    c = e["cache"].get("search") or {}
    lines = read_lines(os.path.join(inputs_dir, "zipf-seq.txt")) if inputs_dir else None
    info = walk_info(run.get("walk"), lines) if lines else None
    ideal = round(1 - info["distinct_sent"] / info["sent"], 4) if info and info["sent"] else None
    hr = c.get("hit_ratio")
    e.update({
        "hits": c.get("hits", 0), "misses": c.get("misses", 0), "evictions": c.get("evictions", 0),
        "hit_ratio": hr,
        "walk": info,
        # What a cache with unbounded memory and no expiry would have reached
        # on exactly the requests sent (first sight of a body = the only miss).
        "ideal_hit_ratio": ideal,
        "timeline": timeline(samples),
        "target_hit_ratio": ZIPF_TARGET_HIT_RATIO,
        "meets_target": hr is not None and hr > ZIPF_TARGET_HIT_RATIO,
    })
    return e


def build(a):
    runs = []
    with open(a.phases) as f:
        for line in f:
            if line.strip():
                runs.append(json.loads(line))
    inputs_meta = load(os.path.join(a.cache_inputs, "meta.json")) if a.cache_inputs else {}
    overhead_lines = read_lines(os.path.join(a.cache_inputs, "overhead.txt")) if a.cache_inputs else None
    overhead = overhead_section([r for r in runs if r["phase"] == "overhead"], overhead_lines)
    barcode_runs = [r for r in runs if r["phase"] == "barcode"]
    zipf_runs = [r for r in runs if r["phase"] == "zipf"]
    barcode = barcode_section(barcode_runs[-1], load(a.barcode_fill)) if barcode_runs else None
    zipf = zipf_section(zipf_runs[-1], a.cache_inputs, a.zipf_samples) if zipf_runs else None
    servers = {}
    if a.stats_dir and os.path.isdir(a.stats_dir):
        for name in sorted(os.listdir(a.stats_dir)):
            if name.startswith("stats-") and name.endswith(".json"):
                servers[name[len("stats-"):-len(".json")]] = load(os.path.join(a.stats_dir, name))
    checks = {}
    for path in a.checks or []:
        base = os.path.basename(path)
        checks[base[len("check-"):-len(".json")] if base.startswith("check-") else base] = load(path)
    preflight = load(a.preflight) or {}
    n_barcodes = 0
    if a.barcodes and os.path.exists(a.barcodes):
        n_barcodes = len(read_lines(a.barcodes))
    return {
        "schema": 1,
        "kind": "cache",
        "label": a.label or None,
        "timestamp": a.timestamp,
        "db": a.db,
        "recalls": a.recalls,
        "machine": dict(machine(a.root), loadavg_at_start=a.loadavg or None),
        "software": software(a),
        "settings": {
            "duration": a.duration, "warmup": a.warmup, "wrk_timeout": a.timeout, "threads": a.threads,
            "connections": a.connections, "overhead_rounds": a.repeats, "high_quota": a.high_quota,
            "fresh_database_per_server": "copy of one imported template (SQLite: data dir copy; "
                                         "PostgreSQL: CREATE DATABASE ... TEMPLATE)",
            "load_model": "closed-loop (wrk): each connection sends its next request when the previous "
                          "answer arrives; wrk runs on the same machine as the server and shares its CPUs",
        },
        "dataset": {"path": os.path.relpath(a.dataset, a.root), "seed": a.seed,
                    "bytes": os.path.getsize(a.dataset)},
        "import": parse_import(a.import_log, a.import_wall),
        "inputs": {
            "overhead_bodies": inputs_meta.get("overhead_bodies"),
            "warmup_bodies": inputs_meta.get("warmup_bodies"),
            "zipf_pool": inputs_meta.get("pool"),
            "zipf_s": inputs_meta.get("zipf_s"),
            "zipf_requests": inputs_meta.get("zipf_requests"),
            "zipf_distinct_in_sequence": inputs_meta.get("zipf_distinct_in_sequence"),
            "zipf_top1_share": inputs_meta.get("top1_share"),
            "zipf_top10_share": inputs_meta.get("top10_share"),
            "zipf_top100_share": inputs_meta.get("top100_share"),
            "zipf_pool_head": inputs_meta.get("pool_head"),
            "barcodes": n_barcodes,
            "inputs_dir": os.path.relpath(a.cache_inputs, a.root) if a.cache_inputs else None,
        },
        "checks": {"search_samples": checks,
                   "preflight_errors": len(preflight.get("errors") or []),
                   "preflight_warnings": len(preflight.get("warnings") or [])},
        "servers": servers,
        "overhead": overhead,
        "barcode": barcode,
        "zipf": zipf,
    }


def ratio(v):
    return "–" if v is None else f"{v * 100:.1f} %"


def summary(r):
    s = r["settings"]
    lines = [f"cache benchmark, {r['db']}, {r['recalls']:,} recalls, {s['duration']} per run, "
             f"{s['connections']} connections, {r['machine'].get('nproc')} CPUs shared by wrk and the server"]
    o = r.get("overhead") or {}
    if o.get("runs"):
        lines.append("  (1) overhead: search with bodies that are all different cache keys (every request a miss)")
        for cfg in ("A", "B"):
            c = o.get(cfg)
            if not c:
                continue
            rounds = "  ".join(f"{rps:,.1f} req/s p99 {p99:.2f} ms"
                               for rps, p99 in zip(c["requests_per_sec"], c["p99_ms"]))
            lines.append(f"      {cfg} ({o['configs'][cfg].split(' (')[0]}): {rounds}  -> mean "
                         f"{c['mean_requests_per_sec']:,.1f} req/s, p99 {c['mean_p99_ms']:.2f} ms")
        if "overhead_pct" in o:
            verdict = "meets" if o["meets_target"] else "MISSES"
            lines.append(f"      overhead {fmt(o['overhead_pct'], ' %', 1)} of search req/s ({verdict} the "
                         f"< {o['target_pct']:.0f} % target; per round "
                         f"{', '.join(fmt(x, ' %', 1) for x in o['overhead_pct_per_round'])}; rounds of one "
                         f"config differ by {fmt(o['rps_spread_pct']['A'], ' %', 1)} (A) / "
                         f"{fmt(o['rps_spread_pct']['B'], ' %', 1)} (B)); p99 {fmt(o['p99_change_pct'], ' %', 1)}")
            b = o.get("B") or {}
            notes = [f"B: {b.get('cache_hits', 0):,} search cache hits / {b.get('cache_misses', 0):,} misses",
                     f"non-2xx A {o['A']['non_2xx']:,} / B {b.get('non_2xx', 0):,}"]
            if o["A"]["walk_wrapped"] or b.get("walk_wrapped"):
                notes.append("a wrk thread ran past its slice of the bodies (some repeated): "
                             "raise --overhead-bodies")
            if not o.get("valid"):
                notes.append("NOT all misses / not all answered: read with care")
            lines.append("      " + "; ".join(notes))
    bc = r.get("barcode")
    if bc:
        lat = bc["latency_ms"]
        fill = bc.get("fill") or {}
        verdict = (f"{'meets' if bc['meets_rps_target'] else 'MISSES'} > {bc['target_rps']:,.0f} req/s, "
                   f"{'meets' if bc['meets_p99_target'] else 'MISSES'} p99 < {bc['target_p99_ms']:.0f} ms")
        lines.append(f"  (2) barcode from cache: {bc['requests_per_sec']:,.1f} req/s, p50 {lat['p50']:.2f} / "
                     f"p95 {lat['p95']:.2f} / p99 {lat['p99']:.2f} ms ({verdict}); hit ratio {ratio(bc['hit_ratio'])} "
                     f"({bc['hits']:,} hits / {bc['misses']:,} misses); cache filled with "
                     f"{fill.get('sent', 0):,} lookups ({fill.get('distinct_codes', 0):,} distinct codes) in "
                     f"{fmt(fill.get('seconds'), ' s', 1)}"
                     + (f"; non-2xx {bc['non_2xx']:,}" if bc["non_2xx"] else "")
                     + (f"; socket errors {bc['socket_errors']:,}" if bc["socket_errors"] else ""))
    z = r.get("zipf")
    if z:
        lat = z["latency_ms"]
        verdict = "meets" if z["meets_target"] else "MISSES"
        inp = r.get("inputs") or {}
        w = z.get("walk") or {}
        tl = z.get("timeline") or {}
        lines.append(f"  (3) Zipf mix (s={inp.get('zipf_s')}, {inp.get('zipf_pool'):,} bodies, sequence of "
                     f"{inp.get('zipf_requests'):,}), cold cache: hit ratio {ratio(z['hit_ratio'])} "
                     f"({verdict} the > {z['target_hit_ratio'] * 100:.0f} % target; {z['hits']:,} hits / "
                     f"{z['misses']:,} misses, {z['evictions']:,} evictions; unbounded cache on the same "
                     f"requests: {ratio(z['ideal_hit_ratio'])}; second half of the run: "
                     f"{ratio(tl.get('hit_ratio_second_half'))})")
        lines.append(f"      {z['requests_per_sec']:,.1f} req/s, p50 {lat['p50']:.2f} / p95 {lat['p95']:.2f} / "
                     f"p99 {lat['p99']:.2f} ms"
                     + (f"; non-2xx {z['non_2xx']:,}" if z["non_2xx"] else "")
                     + ("; a wrk thread ran past its slice of the sequence (requests repeated: "
                        "raise --zipf-requests)" if w.get("wrapped") else ""))
    errs = {n: s.get("log_errors") for n, s in (r.get("servers") or {}).items() if s and s.get("log_errors")}
    if errs:
        lines.append("  server log ERROR lines: " + ", ".join(f"{n} {c}" for n, c in errs.items()))
    return "\n".join(lines)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--print":
        with open(sys.argv[2]) as f:
            print(summary(json.load(f)))
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--show-delta":
        print(show_delta(sys.argv[2], sys.argv[3]))
        return
    ap = argparse.ArgumentParser()
    for name in ["db", "label", "timestamp", "root", "binary", "binary-version", "wrk-version",
                 "postgres-version", "dataset", "duration", "warmup", "timeout", "high-quota", "loadavg",
                 "import-log", "phases", "stats-dir", "preflight", "barcode-fill", "barcodes",
                 "cache-inputs", "zipf-samples", "out"]:
        ap.add_argument("--" + name, default="")
    ap.add_argument("--checks", nargs="*", default=[])
    for name in ["recalls", "threads", "seed", "connections", "repeats"]:
        ap.add_argument("--" + name, type=int, default=0)
    ap.add_argument("--import-wall", type=float, default=0.0)
    a = ap.parse_args()
    result = build(a)
    write_result(a.out, result)


if __name__ == "__main__":
    main()
