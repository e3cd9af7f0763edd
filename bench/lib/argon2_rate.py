#!/usr/bin/env python3
"""Raw Argon2id hash rate of this machine, independent of the server.

    argon2_rate.py [--seconds S] [--processes P] [--memory-kib M] [--iterations T] [--parallelism L]
    argon2_rate.py --show FILE...      # one progress line per earlier JSON output

Hashes a 16-character password with a fresh 16-byte salt per hash (32-byte
tag, like a PHC string) for S seconds in each of P processes, and prints one
JSON line: {"implementation", "params", "processes", "hashes", "seconds",
"hashes_per_sec", "ms_per_hash"}. `ms_per_hash` is per process (wall time of
one hash); `hashes_per_sec` is the total over all processes.

Uses argon2-cffi (`argon2.low_level`, the reference C implementation) when
importable, else libargon2.so.1 through ctypes (Debian: libargon2-1). Neither
is the Rust `argon2` crate the server uses, so the rate is a cross-check of
the machine's hashing limit, not the server's exact cost per hash.
Used by bench/login.
"""
import argparse
import ctypes
import ctypes.util
import json
import multiprocessing
import os
import sys
import time

PASSWORD = b"Bench-Pass-0-xyz"


def hasher():
    """Returns (name, fn(password, salt, m, t, p) -> bytes)."""
    try:
        from argon2 import low_level
        from importlib.metadata import version

        def fn(pw, salt, m, t, p):
            return low_level.hash_secret_raw(pw, salt, time_cost=t, memory_cost=m, parallelism=p,
                                             hash_len=32, type=low_level.Type.ID)
        try:
            name = f"argon2-cffi {version('argon2-cffi')} (argon2-cffi-bindings {version('argon2-cffi-bindings')})"
        except Exception:  # noqa: BLE001 - metadata is nice to have
            name = "argon2-cffi"
        return name, fn
    except ImportError:
        pass
    path = ctypes.util.find_library("argon2") or "libargon2.so.1"
    lib = ctypes.CDLL(path)
    lib.argon2id_hash_raw.argtypes = [ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32,
                                      ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
                                      ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t]
    lib.argon2id_hash_raw.restype = ctypes.c_int

    def fn(pw, salt, m, t, p):
        out = ctypes.create_string_buffer(32)
        rc = lib.argon2id_hash_raw(t, m, p, pw, len(pw), salt, len(salt), out, 32)
        if rc != 0:
            raise RuntimeError(f"argon2id_hash_raw returned {rc}")
        return out.raw
    return f"libargon2 via ctypes ({path})", fn


def worker(args):
    seconds, m, t, p = args
    _, fn = hasher()
    fn(PASSWORD, os.urandom(16), m, t, p)  # first hash: page faults, library load
    n = 0
    start = time.perf_counter()
    while True:
        fn(PASSWORD, os.urandom(16), m, t, p)
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n, elapsed


def show(paths):
    for path in paths:
        try:
            with open(path) as f:
                r = json.load(f)
        except (OSError, ValueError):
            continue
        print(f"    {r['processes']} process(es): {r['hashes_per_sec']:.1f} hashes/s, "
              f"{r['ms_per_hash']:.1f} ms per hash ({r['implementation']})")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--show":
        show(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--memory-kib", type=int, default=19456)
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--parallelism", type=int, default=1)
    a = ap.parse_args()
    name, _ = hasher()
    job = (a.seconds, a.memory_kib, a.iterations, a.parallelism)
    if a.processes == 1:
        results = [worker(job)]
    else:
        with multiprocessing.Pool(a.processes) as pool:
            results = pool.map(worker, [job] * a.processes)
    hashes = sum(n for n, _ in results)
    rate = sum(n / s for n, s in results)
    per_hash = sum(s / n for n, s in results) / len(results)
    print(json.dumps({
        "implementation": name,
        "params": {"memory_kib": a.memory_kib, "iterations": a.iterations, "parallelism": a.parallelism},
        "processes": a.processes,
        "hashes": hashes,
        "seconds": round(max(s for _, s in results), 3),
        "hashes_per_sec": round(rate, 2),
        "ms_per_hash": round(per_hash * 1000, 2),
    }))


if __name__ == "__main__":
    main()
