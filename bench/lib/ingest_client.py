#!/usr/bin/env python3
"""Talks to the server for bench/ingest (standard library only).

  ingest_client.py token BASE EMAIL PASSWORD
      prints an admin access token (the password comes from argv: bench only)
  ingest_client.py pull BASE OPERATOR_TOKEN ADMIN_TOKEN SOURCE
      starts a pull (POST /api/v1/admin/ingest/SOURCE), waits for it to end,
      prints the run (GET /api/v1/admin/ingest/runs) plus the wall time the
      client saw, as one JSON line
  ingest_client.py annotate RUN_JSON SERVER_CPU_S
      prints the run with the server's CPU seconds added, a summary line on
      stderr; exits 1 when the run did not succeed
  ingest_client.py loop BASE OPERATOR_TOKEN ADMIN_TOKEN SOURCE STOP_FILE OUT
      pulls SOURCE back to back until STOP_FILE exists (the running pull is
      finished first); one JSON line per run in OUT
"""
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime


def call(method, url, token=None, body=None, headers=None):
    request = urllib.request.Request(url, method=method, data=body)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        request.add_header(k, v)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def token(base, email, password):
    body = f"username={urllib.parse.quote(email)}&password={urllib.parse.quote(password)}".encode()
    status, answer = call("POST", f"{base}/api/v1/auth/token", body=body,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    if status != 200:
        sys.exit(f"sign-in failed: {status} {answer}")
    return answer["access_token"]


def seconds(run):
    start = datetime.fromisoformat(run["startedAt"])
    end = datetime.fromisoformat(run["finishedAt"])
    return (end - start).total_seconds()


def pull(base, operator, admin, source):
    t0 = time.time()
    status, answer = call("POST", f"{base}/api/v1/admin/ingest/{source}", token=operator)
    if status != 202:
        sys.exit(f"starting a pull of {source} failed: {status} {answer}")
    run_id = answer["data"]["runId"]
    while True:
        status, runs = call("GET", f"{base}/api/v1/admin/ingest/runs?source={source}&limit=5", token=admin)
        if status != 200:
            sys.exit(f"reading the runs failed: {status} {runs}")
        run = next((r for r in runs["data"] if r["id"] == run_id), None)
        if run and run["status"] != "running":
            break
        time.sleep(0.05)
    wall = time.time() - t0
    run["client"] = {"started_unix": round(t0, 3), "wall_seconds": round(wall, 3)}
    run["server_seconds"] = round(seconds(run), 3)
    run["recalls_per_sec"] = round(run["fetched"] / max(run["server_seconds"], 1e-9), 1)
    return run


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "token" and len(sys.argv) == 5:
        print(token(*sys.argv[2:5]))
    elif cmd == "pull" and len(sys.argv) == 6:
        print(json.dumps(pull(*sys.argv[2:6])))
    elif cmd == "annotate" and len(sys.argv) == 4:
        run = json.loads(sys.argv[2])
        run["server_cpu_s"] = float(sys.argv[3])
        print(json.dumps(run))
        print(f"    {run['status']}: {run['fetched']:,} fetched, {run['inserted']:,} inserted, "
              f"{run['updated']:,} updated in "
              f"{run['server_seconds']:.2f} s = {run['recalls_per_sec']:,.0f} recalls/s ({run['pages']} pages; "
              f"client wall {run['client']['wall_seconds']:.2f} s, server {run['server_cpu_s']:.1f} CPU s)",
              file=sys.stderr)
        sys.exit(0 if run["status"] == "succeeded" else 1)
    elif cmd == "loop" and len(sys.argv) == 8:
        base, operator, admin, source, stop, out = sys.argv[2:8]
        with open(out, "w") as f:
            while not os.path.exists(stop):
                run = pull(base, operator, admin, source)
                f.write(json.dumps(run) + "\n")
                f.flush()
                if run["status"] != "succeeded":
                    sys.exit(f"a pull failed: {run}")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
