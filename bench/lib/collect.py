#!/usr/bin/env python3
"""Assemble one benchmark results file from the pieces `bench/run` wrote.

Called by bench/run; not meant to be run by hand. Machine information is
gathered here (nproc, memory, CPU model, kernel, git revision).
"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys


def software(a):
    """The versions every results file records (from the collectors' common options)."""
    return {"babyshield": a.binary_version or None, "binary": a.binary,
            "wrk": a.wrk_version or None, "postgres": a.postgres_version or None}


def write_result(path, result):
    """Writes a results file whole or not at all (a reader never sees half of one)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def sh(cmd, cwd=None):
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine(root):
    info = {"nproc": len(os.sched_getaffinity(0)), "cpu_count": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            models = [l.split(":", 1)[1].strip() for l in f if l.startswith("model name")]
        info["cpu_model"] = models[0] if models else platform.processor()
    except OSError:
        info["cpu_model"] = platform.processor()
    try:
        with open("/proc/meminfo") as f:
            for l in f:
                if l.startswith("MemTotal:"):
                    info["memory_mb"] = int(l.split()[1]) // 1024
    except OSError:
        pass
    info["kernel"] = platform.release()
    info["git_revision"] = sh(["git", "rev-parse", "HEAD"], cwd=root) or None
    info["git_dirty"] = bool(sh(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root))
    return info


def load(path):
    """A JSON file another step wrote, or None when it is missing or unreadable."""
    if path and os.path.exists(path):
        try:
            with open(path) as f:
                return json.load(f)
        except ValueError:
            return None
    return None


def pct(new, old, digits=1):
    """Change from old to new in percent (None without a baseline)."""
    return round((new - old) / old * 100.0, digits) if old else None


def fmt(v, unit="", digits=2):
    return "–" if v is None else f"{v:,.{digits}f}{unit}"


IMPORT_RE = re.compile(
    r"imported (\d+) lines in ([0-9.]+)s \(([0-9.]+) recalls/s\): (\d+) inserted, (\d+) updated, "
    r"(\d+) unchanged, (\d+) rejected")
# Printed after it when the full-text and facet indexes were built after the
# last batch (an import into an empty SQLite catalogue; included in the time).
DEFERRED_BUILD_RE = re.compile(r"built the full-text and facet indexes after the last batch in ([0-9.]+)s")


def wrk_entry(run):
    """One wrk run as the results files record it (shared by every bench)."""
    w = run["wrk"]
    socket = w["socket_errors"]
    return {
        "requests_per_sec": round(w["requests_per_sec"], 1),
        "latency_ms": {k: round(w["latency_us"][k] / 1000.0, 3) for k in ["p50", "p90", "p95", "p99", "max", "mean"]},
        "non_2xx": w["non_2xx"],
        "socket_errors": sum(socket.values()),
        "socket_error_detail": socket,
        "requests": w["requests"],
        "bytes": w["bytes"],
        "duration_s": w["duration_s"],
        "connections": run["connections"],
        "threads": run["threads"],
        "server_cpu_s": run.get("server_cpu_s"),
        "server_cores_busy": round(run["server_cpu_s"] / w["duration_s"], 2)
        if run.get("server_cpu_s") is not None and w["duration_s"] else None,
        # Result pages' documents found in memory / read from the database
        # during the run (`search.document_cache_mib`; bench/run only).
        "document_cache": run.get("document_cache"),
        # Term groups' match sets found in memory / extended by recalls
        # indexed since / computed (`search.term_cache_mib`; bench/run only).
        "term_cache": run.get("term_cache"),
    }


def parse_import(log_path, wall):
    with open(log_path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    m = IMPORT_RE.search(text)
    if not m:
        sys.exit(f"collect: no 'imported N lines in Xs' line in {log_path}")
    lines, secs, rate, ins, upd, unch, rej = m.groups()
    built = DEFERRED_BUILD_RE.search(text)
    return {"seconds": float(secs), "recalls_per_sec": float(rate), "lines": int(lines),
            "inserted": int(ins), "updated": int(upd), "unchanged": int(unch), "rejected": int(rej),
            "deferred_index_build_seconds": float(built.group(1)) if built else None,
            "wall_seconds": round(wall, 3)}


def main():
    ap = argparse.ArgumentParser()
    for name in ["db", "label", "timestamp", "root", "binary", "binary-version", "wrk-version",
                 "postgres-version", "dataset", "duration", "warmup", "timeout", "connections",
                 "db-pool", "import-log", "runs", "preflight", "inputs-meta", "server-stats", "out",
                 "server-env"]:
        ap.add_argument("--" + name, default="")
    ap.add_argument("--recalls", type=int, required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--import-wall", type=float, required=True)
    ap.add_argument("--db-size-bytes", type=int, default=None)
    a = ap.parse_args()

    scenarios = {}
    with open(a.runs) as f:
        for line in f:
            if not line.strip():
                continue
            run = json.loads(line)
            entry = wrk_entry(run)
            scenarios.setdefault(run["scenario"], {})[str(run["connections"])] = entry

    def load(path):
        if path and os.path.exists(path):
            with open(path) as f:
                return json.load(f)
        return None

    inputs = load(a.inputs_meta) or {}
    server = load(a.server_stats) or {}
    result = {
        "schema": 1,
        "label": a.label or None,
        "timestamp": a.timestamp,
        "db": a.db,
        "recalls": a.recalls,
        "machine": machine(a.root),
        "software": software(a),
        "settings": {
            "duration": a.duration, "warmup_per_scenario": a.warmup, "wrk_timeout": a.timeout,
            "threads": a.threads, "connections": [int(c) for c in a.connections.split(",") if c],
            "db_pool_max_connections": int(a.db_pool) if a.db_pool else None,
            "server_env": [e for e in a.server_env.split(" ") if e],
            "load_model": "closed-loop (wrk): each connection sends its next request when the "
                          "previous answer arrives; wrk runs on the same machine as the server",
        },
        "dataset": {"path": os.path.relpath(a.dataset, a.root), "seed": a.seed,
                    "bytes": os.path.getsize(a.dataset)},
        "inputs": {k: inputs.get(k) for k in ["search_bodies", "search_queries", "barcodes",
                                             "unknown_barcodes", "ids"]},
        "import": parse_import(a.import_log, a.import_wall),
        "database_size_bytes": a.db_size_bytes,
        "server": server,
        "scenarios": scenarios,
        "preflight": load(a.preflight),
    }
    write_result(a.out, result)


if __name__ == "__main__":
    main()
