#!/usr/bin/env python3
"""Assemble the results file of bench/login, or print one.

    login_collect.py --out FILE --phases phases.jsonl ...   # called by bench/login
    login_collect.py --print FILE                           # short summary of a results file

Machine information comes from collect.py (the same fields as bench/run's
results). Not meant to be run by hand except with --print.
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from collect import fmt, load, machine, pct, software, write_result, wrk_entry  # noqa: E402

TARGET_PCT = 50.0  # the target: a login flood raises search p99 by less than this


def entry(run):
    w = run["wrk"]
    e = wrk_entry(run)
    if run.get("status") is not None:
        st = run["status"]
        e["status"] = st
        e["ok_per_sec"] = round(st["200"] / w["duration_s"], 2) if w["duration_s"] else None
    secs = run.get("metrics_seconds") or 0
    e["hashing"] = {
        "hashes": run.get("hashes"),
        "rejected": run.get("rejected"),
        "seconds": secs,
        "hashes_per_sec": round(run["hashes"] / secs, 2) if secs and run.get("hashes") is not None else None,
    }
    return e


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def build(a):
    phases, by_round = {}, {}
    with open(a.phases) as f:
        for line in f:
            if line.strip():
                run = json.loads(line)
                if run.get("round"):
                    by_round.setdefault(run["round"], {})[run["phase"]] = entry(run)
                else:
                    phases[run["phase"]] = entry(run)
    rounds = []
    for n in sorted(by_round):
        r = by_round[n]
        sa, sc = r.get("search_alone"), r.get("search_with_flood")
        inc = pct(sc["latency_ms"]["p99"], sa["latency_ms"]["p99"]) if sa and sc else None
        rounds.append(dict(round=n, search_p99_increase_pct=inc, **r))
    raw_single, raw_all = load(a.raw_single), load(a.raw_all)
    login_b = phases.get("login_alone")
    # Each of (a), (c) and the flood summarized over the rounds by its median.
    alone = [r["search_alone"] for r in rounds if r.get("search_alone")]
    during = [r["search_with_flood"] for r in rounds if r.get("search_with_flood")]
    floods = [r["flood"] for r in rounds if r.get("flood")]
    slots = a.hashing_slots or None

    hash_limit = {
        "server_hashing_slots": slots,
        "server_hashing_queue": a.hashing_queue,
        "server_hashes_per_sec_login_alone": login_b and login_b["hashing"]["hashes_per_sec"],
        "server_hashes_per_sec_during_flood": median(e["hashing"]["hashes_per_sec"] for e in during),
        "raw_single_thread_hashes_per_sec": raw_single and raw_single["hashes_per_sec"],
        "raw_single_thread_ms_per_hash": raw_single and raw_single["ms_per_hash"],
        "raw_all_cores_hashes_per_sec": raw_all and raw_all["hashes_per_sec"],
        "raw_all_cores_processes": raw_all and raw_all["processes"],
        "raw_implementation": (raw_single or raw_all or {}).get("implementation"),
        # What the server's slots could do at the single-thread raw speed
        # (an upper bound: assumes every slot gets a whole core).
        "raw_single_x_slots_hashes_per_sec": round(raw_single["hashes_per_sec"] * slots, 2)
        if raw_single and slots else None,
    }
    comparison = {}
    if login_b:
        ok = login_b.get("ok_per_sec")
        srv = login_b["hashing"]["hashes_per_sec"]
        comparison["login_ok_per_sec"] = ok
        comparison["login_p99_ms"] = login_b["latency_ms"]["p99"]
        # Logins per second as a share of the hashes the server did in the
        # same run (~100 %: every login is one hash), and of the machine's raw
        # hashing capacity measured outside the server.
        comparison["login_vs_server_hash_rate_pct"] = round(ok / srv * 100, 1) if ok is not None and srv else None
        raw_cap = raw_all and raw_all["hashes_per_sec"]
        comparison["login_vs_raw_all_cores_pct"] = round(ok / raw_cap * 100, 1) if ok is not None and raw_cap else None
        x = hash_limit["raw_single_x_slots_hashes_per_sec"]
        comparison["login_vs_raw_single_x_slots_pct"] = round(ok / x * 100, 1) if ok is not None and x else None
    if alone and during:
        def med(es, key):
            return median(e["latency_ms"][key] for e in es)
        a99, c99 = med(alone, "p99"), med(during, "p99")
        a_rps, c_rps = median(e["requests_per_sec"] for e in alone), median(e["requests_per_sec"] for e in during)
        inc = pct(c99, a99)
        comparison.update({
            "rounds": len(rounds),
            "aggregate": "median over the rounds",
            "search_p99_alone_ms": a99,
            "search_p99_with_flood_ms": c99,
            "search_p99_increase_pct": inc,
            "search_p99_increase_pct_per_round": [r["search_p99_increase_pct"] for r in rounds],
            "search_p99_target_pct": TARGET_PCT,
            "meets_target": inc is not None and inc < TARGET_PCT,
            "search_p50_increase_pct": pct(med(during, "p50"), med(alone, "p50")),
            "search_p95_increase_pct": pct(med(during, "p95"), med(alone, "p95")),
            "search_rps_alone": a_rps,
            "search_rps_with_flood": c_rps,
            "search_rps_change_pct": pct(c_rps, a_rps),
        })
    if floods:
        comparison["flood_status"] = {k: sum(f["status"][k] for f in floods if f.get("status"))
                                      for k in ("200", "401", "429", "503", "other")}
        comparison["flood_ok_per_sec"] = median(f.get("ok_per_sec") for f in floods)
        comparison["flood_p99_ms"] = median(f["latency_ms"]["p99"] for f in floods)

    return {
        "schema": 2,
        "kind": "login",
        "label": a.label or None,
        "timestamp": a.timestamp,
        "db": a.db,
        "recalls": a.recalls,
        "machine": dict(machine(a.root), loadavg_at_start=a.loadavg or None),
        "software": software(a),
        "settings": {
            "duration": a.duration, "warmup": a.warmup, "wrk_timeout": a.timeout, "threads": a.threads,
            "users": a.users, "search_connections": a.search_connections,
            "login_connections": a.login_connections, "flood_connections": a.flood_connections,
            "flood_threads": 1, "flood_lead_s": a.flood_lead, "flood_nice": a.flood_nice,
            "repeats": a.repeats,
            "argon2": {"memory_kib": 19456, "iterations": 2, "parallelism": 1},
            "server_env": [e for e in a.server_env.split(" ") if e],
            "load_model": "closed-loop (wrk): each connection sends its next request when the previous "
                          "answer arrives; wrk runs on the same machine as the server and shares its CPUs "
                          "(two wrk processes during the flood phase)",
        },
        "dataset": {"path": os.path.relpath(a.dataset, a.root), "seed": a.seed,
                    "bytes": os.path.getsize(a.dataset)},
        "users": load(a.users_json),
        "raw_hash_rate": {"single": raw_single, "all_cores": raw_all},
        "hash_limit": hash_limit,
        "server": dict(load(a.server_stats) or {}, log_errors=a.server_errors, log_warnings=a.server_warnings),
        "phases": phases,
        "rounds": rounds,
        "comparison": comparison,
    }


def summary(r):
    p, c, h = r["phases"], r["comparison"], r["hash_limit"]
    s = r["settings"]
    lines = [f"login benchmark, {r['db']}, {r['recalls']:,} recalls, {s['duration']} per phase, "
             f"{r['machine'].get('nproc')} CPUs shared by wrk and the server"]
    if h.get("raw_single_thread_hashes_per_sec") is not None:
        lines.append(f"  raw Argon2id ({h['raw_implementation']}): {fmt(h['raw_single_thread_hashes_per_sec'], ' hashes/s', 1)} "
                     f"on 1 thread ({fmt(h['raw_single_thread_ms_per_hash'], ' ms', 1)} each), "
                     f"{fmt(h.get('raw_all_cores_hashes_per_sec'), ' hashes/s', 1)} on {h.get('raw_all_cores_processes') or '?'}")
    else:
        lines.append("  raw Argon2id rate: not measured")
    rows = [("(b) login alone", p.get("login_alone"), "login_alone")]
    for rd in r_rounds(r):
        n = rd["round"]
        rows += [(f"({n}a) search alone", rd.get("search_alone"), "search_alone"),
                 (f"({n}c) search + flood", rd.get("search_with_flood"), "search_with_flood"),
                 ("     the flood", rd.get("flood"), "flood")]
    for title, e, name in rows:
        if not e:
            continue
        lat = e["latency_ms"]
        line = (f"  {title:<19} {e['connections']:>4} conn  {e['requests_per_sec']:>9,.1f} req/s  "
                f"p50 {fmt(lat['p50'])}  p95 {fmt(lat['p95'])}  p99 {fmt(lat['p99'])} ms")
        if e.get("status"):
            st = e["status"]
            other = st["401"] + st["429"] + st["other"]
            line += f"  200: {st['200']:,}  503: {st['503']:,}  other: {other:,}"
        elif e["non_2xx"]:
            line += f"  non-2xx {e['non_2xx']:,}"
        if e["socket_errors"]:
            line += f"  socket errors {e['socket_errors']:,}"
        if e["hashing"]["hashes"] and name != "search_alone":
            line += f"  [{fmt(e['hashing']['hashes_per_sec'], ' hashes/s', 1)}]"
        lines.append(line)
    if "login_ok_per_sec" in c:
        lines.append(f"  login: {fmt(c['login_ok_per_sec'], '/s', 1)} successful = "
                     f"{fmt(c.get('login_vs_server_hash_rate_pct'), ' %', 0)} of the server's hash rate in the same run, "
                     f"{fmt(c.get('login_vs_raw_all_cores_pct'), ' %', 0)} of the raw all-core rate, "
                     f"{fmt(c.get('login_vs_raw_single_x_slots_pct'), ' %', 0)} of raw 1-thread x slots; "
                     f"p99 {fmt(c['login_p99_ms'])} ms ({h.get('server_hashing_slots')} hashing slots)")
    if c.get("rounds"):
        lines.append(f"  per round, search p99 increase: "
                     f"{', '.join(fmt(x, ' %', 1) for x in c['search_p99_increase_pct_per_round'])}; "
                     f"below: medians over {c['rounds']} rounds")
    if "search_p99_increase_pct" in c:
        verdict = "meets" if c["meets_target"] else "MISSES"
        lines.append(f"  search p99 {fmt(c['search_p99_alone_ms'])} -> {fmt(c['search_p99_with_flood_ms'])} ms "
                     f"during the flood: {fmt(c['search_p99_increase_pct'], ' %', 1)} "
                     f"({verdict} the < {c['search_p99_target_pct']:.0f} % target); "
                     f"search req/s {fmt(c['search_rps_change_pct'], ' %', 1)}")
    srv = r.get("server") or {}
    if srv.get("log_errors"):
        lines.append(f"  server log: {srv['log_errors']} ERROR lines")
    return "\n".join(lines)


def r_rounds(r):
    """The rounds of a result; a schema-1 file had one, in its phases."""
    if "rounds" in r:
        return r["rounds"]
    p = r["phases"]
    return [{"round": 1, "search_alone": p.get("search_alone"), "search_with_flood": p.get("search_with_flood"),
             "flood": p.get("flood")}]


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--print":
        with open(sys.argv[2]) as f:
            print(summary(json.load(f)))
        return
    ap = argparse.ArgumentParser()
    for name in ["db", "label", "timestamp", "root", "binary", "binary-version", "wrk-version",
                 "postgres-version", "dataset", "duration", "warmup", "timeout", "server-env",
                 "raw-single", "raw-all", "users-json", "phases", "server-stats", "out", "loadavg"]:
        ap.add_argument("--" + name, default="")
    for name in ["recalls", "threads", "seed", "users", "search-connections", "login-connections",
                 "flood-connections", "flood-lead", "flood-nice", "repeats", "hashing-slots", "hashing-queue",
                 "server-errors", "server-warnings"]:
        ap.add_argument("--" + name, type=int, default=0)
    a = ap.parse_args()
    result = build(a)
    write_result(a.out, result)


if __name__ == "__main__":
    main()
