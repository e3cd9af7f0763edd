#!/usr/bin/env python3
"""Check the prepared requests against a running server before loading it.

    preflight.py BASE_URL INPUTDIR > preflight.json

Sends every search body, the first 100 barcodes and ids, and the agencies
request once, sequentially. Exits 1 when any answer is not a 200 with
`"ok": true` (the load test would then measure error paths). Semantic
surprises (a known barcode reported as not recalled, an unknown one as
recalled, a detail answer for another id) are reported as warnings.
Prints a JSON summary on stdout: per search query the `total` it matched.
"""
import json
import os
import sys
import urllib.error
import urllib.request

SAMPLE = 100


def call(base, method, path, body=None):
    data = body.encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")[:300]


def lines(path):
    with open(path, encoding="utf-8") as f:
        return [l.strip() for l in f if l.strip()]


def main():
    base, inputs = sys.argv[1].rstrip("/"), sys.argv[2]
    errors, warnings = [], []
    summary = {"search": [], "barcode": {}, "detail": {}, "agencies": {}}

    def ok(what, status, body):
        if status != 200 or not isinstance(body, dict) or body.get("ok") is not True:
            errors.append(f"{what}: HTTP {status}: {json.dumps(body)[:300] if not isinstance(body, str) else body}")
            return False
        return True

    status, body = call(base, "GET", "/api/v1/agencies")
    if ok("GET /api/v1/agencies", status, body):
        summary["agencies"]["count"] = len(body["data"])

    for raw in lines(os.path.join(inputs, "search.txt")):
        status, body = call(base, "POST", "/api/v1/search/advanced", raw)
        if ok(f"POST /api/v1/search/advanced {raw}", status, body):
            data = body["data"]
            summary["search"].append({"body": json.loads(raw), "total": data.get("total"),
                                      "items": len(data.get("items", []))})

    unknown = set(lines(os.path.join(inputs, "unknown_barcodes.txt")))
    recalled = not_recalled = 0
    for code in lines(os.path.join(inputs, "barcodes.txt"))[:SAMPLE]:
        status, body = call(base, "GET", "/api/v1/lookup/barcode/" + code)
        if ok(f"GET /api/v1/lookup/barcode/{code}", status, body):
            is_recalled = body["data"].get("recalled")
            recalled += bool(is_recalled)
            not_recalled += not is_recalled
            if is_recalled == (code in unknown):
                warnings.append(f"barcode {code}: recalled={is_recalled}, expected {code not in unknown}")
    summary["barcode"] = {"checked": recalled + not_recalled, "recalled": recalled, "not_recalled": not_recalled}

    checked = 0
    for rid in lines(os.path.join(inputs, "ids.txt"))[:SAMPLE]:
        status, body = call(base, "GET", "/api/v1/recall/" + rid)
        if ok(f"GET /api/v1/recall/{rid}", status, body):
            checked += 1
            if body["data"].get("id") != rid:
                warnings.append(f"recall {rid}: answered id {body['data'].get('id')!r}")
    summary["detail"] = {"checked": checked}

    summary["errors"], summary["warnings"] = errors, warnings
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")
    for w in warnings[:20]:
        print(f"preflight warning: {w}", file=sys.stderr)
    for e in errors[:20]:
        print(f"preflight error: {e}", file=sys.stderr)
    if errors:
        print(f"preflight: {len(errors)} request(s) failed; not running the load test", file=sys.stderr)
        sys.exit(1)
    zero = [s["body"]["query"] for s in summary["search"] if not s["total"]]
    print(f"preflight: all requests answered 200; {len(zero)} search bodies match nothing"
          + (f" ({', '.join(zero)})" if zero else ""), file=sys.stderr)


if __name__ == "__main__":
    main()
