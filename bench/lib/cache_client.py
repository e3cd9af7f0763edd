#!/usr/bin/env python3
"""Small HTTP helpers of bench/cache (standard library only).

    cache_client.py warm BASE FILE PATH_PREFIX   # GET PATH_PREFIX + line, every line once
    cache_client.py check BASE FILE [N]          # POST N bodies of FILE to /api/v1/search/advanced
    cache_client.py metrics BASE                 # the cache_* series of /metrics as JSON

`warm` and `check` use one keep-alive connection and stop with exit status 1
unless every answer is a 200 with `"ok": true`; each prints a one-line JSON
summary on stdout. `check` sends N lines spread evenly over FILE (default 50).
`metrics` prints {"requests": {class: {"hit": n, "miss": n}}, "evictions":
{class: n}, "other": {series: value}} (0 for what the server does not export).
"""
import http.client
import json
import re
import sys
import time
import urllib.parse

SERIES_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Client:
    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port or 80
        self.conn = None

    def call(self, method, path, body=None):
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):  # one retry on a dropped keep-alive connection
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise


def lines(path):
    with open(path, encoding="utf-8") as f:
        return [l.strip() for l in f if l.strip()]


def ok(status, raw):
    if status != 200:
        return False
    try:
        return json.loads(raw).get("ok") is True
    except ValueError:
        return False


def warm(base, path, prefix):
    client, errors, start = Client(base), [], time.monotonic()
    items = lines(path)
    for item in items:
        status, raw = client.call("GET", prefix + item)
        if not ok(status, raw):
            errors.append(f"GET {prefix}{item}: HTTP {status}: {raw[:200]!r}")
    print(json.dumps({"sent": len(items), "failed": len(errors), "seconds": round(time.monotonic() - start, 3)}))
    for e in errors[:10]:
        print(f"cache_client: {e}", file=sys.stderr)
    return 1 if errors else 0


def check(base, path, n):
    client, errors, zero = Client(base), [], 0
    items = lines(path)
    step = max(1, len(items) // n)
    sample = items[::step][:n]
    for body in sample:
        status, raw = client.call("POST", "/api/v1/search/advanced", body.encode())
        if not ok(status, raw):
            errors.append(f"POST {body}: HTTP {status}: {raw[:200]!r}")
        elif not json.loads(raw)["data"].get("total"):
            zero += 1
    print(json.dumps({"checked": len(sample), "failed": len(errors), "matched_nothing": zero}))
    for e in errors[:10]:
        print(f"cache_client: {e}", file=sys.stderr)
    return 1 if errors else 0


def parse_metrics(text):
    out = {"requests": {}, "evictions": {}, "other": {}}
    for line in text.splitlines():
        if not line.startswith("cache_"):
            continue
        m = SERIES_RE.match(line)
        if not m:
            continue
        name, labels, value = m.group(1), dict(LABEL_RE.findall(m.group(2) or "")), m.group(3)
        try:
            v = float(value)
        except ValueError:
            continue
        v = int(v) if v.is_integer() else v
        if name == "cache_requests_total" and "class" in labels and "result" in labels:
            out["requests"].setdefault(labels["class"], {}).setdefault(labels["result"], 0)
            out["requests"][labels["class"]][labels["result"]] += v
        elif name == "cache_evictions_total" and "class" in labels:
            out["evictions"][labels["class"]] = out["evictions"].get(labels["class"], 0) + v
        else:
            out["other"][name + (m.group(2) or "")] = v
    return out


def metrics(base):
    client = Client(base)
    status, raw = client.call("GET", "/metrics")
    if status != 200:
        print(f"cache_client: GET /metrics: HTTP {status}", file=sys.stderr)
        return 1
    print(json.dumps(parse_metrics(raw.decode("utf-8", "replace"))))
    return 0


def main():
    args = sys.argv[1:]
    if len(args) == 4 and args[0] == "warm":
        return warm(args[1].rstrip("/"), args[2], args[3])
    if len(args) in (3, 4) and args[0] == "check":
        return check(args[1].rstrip("/"), args[2], int(args[3]) if len(args) == 4 else 50)
    if len(args) == 2 and args[0] == "metrics":
        return metrics(args[1].rstrip("/"))
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
