#!/usr/bin/env python3
"""HTTP helpers of bench/family (standard library only).

    family_client.py safety BASE INPUTS            # preflight of the anonymous bodies
    family_client.py member BASE INPUTS OUT_DIR    # account + member, member bodies
    family_client.py bodies PHOTO_DIR CODES...     # multipart bodies of the photos
    family_client.py photos BASE PHOTO_DIR CODES...  # preflight of the photos
    family_client.py metrics BASE                  # scan_* series of /metrics as JSON

`safety` sends every known and unknown barcode of INPUTS (bench/lib/
family_inputs.py) once to POST /api/v1/safety-check: each must answer 200
`{"ok": true}`; known codes must get the verdict `recalled`, unknown ones
`no_known_recall` (a mismatch is an error: the load would measure something
else). Prints a JSON summary (verdict counts).

`member` registers an account (201, `data.access_token`), creates a family
member (`Mia`, 18 months, allergic to milk and peanuts), writes OUT_DIR/
member-bodies.txt (the anonymous bodies plus `"memberId"`) and OUT_DIR/
token.txt, and checks 100 member bodies (200, and at least one allergen
warning among the known codes when the data set names milk or peanut).

`bodies` writes PHOTO_DIR/photo-<CODE>.body for each PHOTO_DIR/photo-<CODE>.jpg
(a multipart/form-data body with one `photo` part, boundary BOUNDARY) and
PHOTO_DIR/bodies.txt listing them (the input of bench/lua/scan.lua).

`photos` posts every body once: each must answer 200 with the photo's code
among the barcodes found (as GTIN). Prints a JSON summary with the time each
took (sequential, so this is the single-photo latency on an idle server).

`metrics` prints {"shed": n, "decoded": n, "no_barcode": n, "rejected": n,
"timeout": n, "decode_seconds_sum": s, "decode_seconds_count": n} from the
server's Prometheus text (absent series are 0).
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

BOUNDARY = "babyshield-bench-photo-boundary-7d1f5a"  # also in bench/lua/scan.lua
SAFETY = "/api/v1/safety-check"


def call(base, method, path, body=None, headers=None, timeout=60):
    req = urllib.request.Request(base + path, data=body, method=method)
    req.add_header("Accept", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, raw.decode(errors="replace")[:300]


def post_json(base, path, obj, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    return call(base, "POST", path, json.dumps(obj).encode(), headers)


def lines(path):
    with open(path, encoding="utf-8") as f:
        return [l.strip() for l in f if l.strip()]


def ok(status, body):
    return status == 200 and isinstance(body, dict) and body.get("ok") is True


def short(body):
    return body if isinstance(body, str) else json.dumps(body)[:300]


def safety(base, inputs):
    known, unknown = lines(os.path.join(inputs, "known.txt")), lines(os.path.join(inputs, "unknown.txt"))
    errors, verdicts = [], {}
    start = time.monotonic()
    for expect, codes in (("recalled", known), ("no_known_recall", unknown)):
        for code in codes:
            status, body = post_json(base, SAFETY, {"barcode": code})
            if not ok(status, body):
                errors.append(f"safety-check {code}: HTTP {status}: {short(body)}")
                continue
            verdict = body["data"].get("verdict")
            verdicts[verdict] = verdicts.get(verdict, 0) + 1
            if verdict != expect:
                errors.append(f"safety-check {code}: verdict {verdict}, expected {expect}")
    summary = {"checked": len(known) + len(unknown), "verdicts": verdicts,
               "seconds": round(time.monotonic() - start, 3), "errors": errors[:20]}
    print(json.dumps(summary))
    for e in errors[:20]:
        print(f"preflight error: {e}", file=sys.stderr)
    if errors:
        sys.exit(f"preflight: {len(errors)} safety check(s) failed; not running the load test")


def member(base, inputs, out_dir):
    email = f"bench-family-{os.getpid()}-{int(time.time())}@example.com"
    password = f"Bench-Family-{os.getpid()}-xyz"
    status, body = post_json(base, "/api/v1/auth/register",
                             {"email": email, "password": password, "confirm_password": password})
    if status != 201 or not isinstance(body, dict) or not (body.get("data") or {}).get("access_token"):
        sys.exit(f"family_client: register: HTTP {status}: {short(body)}")
    token = body["data"]["access_token"]
    profile = {"name": "Mia", "ageMonths": 18, "allergies": ["milk", "peanuts"]}
    status, body = post_json(base, "/api/v1/family/members", profile, token)
    if status != 201 or not isinstance(body, dict) or not (body.get("data") or {}).get("id"):
        sys.exit(f"family_client: create member: HTTP {status}: {short(body)}")
    member_id = body["data"]["id"]
    recognized = body["data"].get("recognizedAllergens")
    bodies = []
    for raw in lines(os.path.join(inputs, "bodies.txt")):
        obj = json.loads(raw)
        obj["memberId"] = member_id
        bodies.append(json.dumps(obj))
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "member-bodies.txt"), "w") as f:
        f.write("\n".join(bodies) + "\n")
    with open(os.path.join(out_dir, "token.txt"), "w") as f:
        f.write(token + "\n")
    # Check: the first 100 bodies, and every known code, for allergen warnings.
    errors, allergen_warnings, age_warnings, checked = [], 0, 0, 0
    verdicts = {}
    sample = bodies[:100] + [json.dumps({"barcode": c, "memberId": member_id})
                             for c in lines(os.path.join(inputs, "known.txt"))]
    for raw in sample:
        status, body = post_json(base, SAFETY, json.loads(raw), token)
        if not ok(status, body):
            errors.append(f"safety-check {raw}: HTTP {status}: {short(body)}")
            continue
        checked += 1
        data = body["data"]
        verdicts[data.get("verdict")] = verdicts.get(data.get("verdict"), 0) + 1
        allergen_warnings += bool(data.get("allergenWarnings"))
        age_warnings += bool(data.get("ageWarnings"))
        if data.get("memberId") != member_id:
            errors.append(f"safety-check {raw}: memberId {data.get('memberId')!r} in the answer")
    summary = {"member_id": member_id, "profile": profile, "recognized_allergens": recognized,
               "checked": checked, "verdicts": verdicts,
               "answers_with_allergen_warnings": allergen_warnings,
               "answers_with_age_warnings": age_warnings, "errors": errors[:20]}
    print(json.dumps(summary))
    for e in errors[:20]:
        print(f"preflight error: {e}", file=sys.stderr)
    if errors:
        sys.exit(f"preflight: {len(errors)} member safety check(s) failed")
    if not allergen_warnings:
        print("preflight warning: no member check produced an allergen warning", file=sys.stderr)


def body_path(photo_dir, code):
    return os.path.join(photo_dir, f"photo-{code}.body")


def bodies(photo_dir, codes):
    paths = []
    for code in codes:
        jpg = os.path.join(photo_dir, f"photo-{code}.jpg")
        with open(jpg, "rb") as f:
            data = f.read()
        body = (f"--{BOUNDARY}\r\n"
                f"Content-Disposition: form-data; name=\"photo\"; filename=\"photo-{code}.jpg\"\r\n"
                f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()
        out = body_path(photo_dir, code)
        with open(out + ".tmp", "wb") as f:
            f.write(body)
        os.replace(out + ".tmp", out)
        paths.append(out)
    with open(os.path.join(photo_dir, "bodies.txt"), "w") as f:
        f.write("\n".join(paths) + "\n")


def photos(base, photo_dir, codes):
    errors, results = [], []
    for code in codes:
        with open(body_path(photo_dir, code), "rb") as f:
            body = f.read()
        start = time.monotonic()
        status, answer = call(base, "POST", "/api/v1/scan/image", body,
                              {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}, timeout=120)
        seconds = time.monotonic() - start
        if not ok(status, answer):
            errors.append(f"scan/image photo-{code}: HTTP {status}: {short(answer)}")
            continue
        data = answer["data"]
        gtins = [b.get("gtin") for b in data.get("barcodes", [])]
        if code.rjust(14, "0") not in [g.rjust(14, "0") for g in gtins if g]:
            errors.append(f"scan/image photo-{code}: found {gtins}, not {code}")
        results.append({"code": code, "seconds": round(seconds, 3), "width": data.get("width"),
                        "height": data.get("height"), "verdict": (data.get("safety") or {}).get("verdict"),
                        "body_bytes": len(body)})
    print(json.dumps({"photos": results, "errors": errors}))
    for e in errors:
        print(f"preflight error: {e}", file=sys.stderr)
    if errors:
        sys.exit(f"preflight: {len(errors)} photo(s) failed; not running the image benchmark")


def metrics(base):
    try:
        with urllib.request.urlopen(base + "/metrics", timeout=10) as resp:
            text = resp.read().decode(errors="replace")
    except (OSError, urllib.error.URLError):
        text = ""
    out = {"shed": 0, "decoded": 0, "no_barcode": 0, "rejected": 0, "timeout": 0,
           "decode_seconds_sum": 0.0, "decode_seconds_count": 0}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _, value = line.rpartition(" ")
        try:
            v = float(value)
        except ValueError:
            continue
        if name.startswith("scan_images_total{"):
            for outcome in ("shed", "decoded", "no_barcode", "rejected", "timeout"):
                if f'outcome="{outcome}"' in name:
                    out[outcome] += int(v)
        elif name.startswith("scan_image_decode_seconds_sum"):
            out["decode_seconds_sum"] += v
        elif name.startswith("scan_image_decode_seconds_count"):
            out["decode_seconds_count"] += int(v)
    print(json.dumps(out))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "safety" and len(args) == 2:
        safety(args[0].rstrip("/"), args[1])
    elif cmd == "member" and len(args) == 3:
        member(args[0].rstrip("/"), args[1], args[2])
    elif cmd == "bodies" and len(args) >= 2:
        bodies(args[0], args[1:])
    elif cmd == "photos" and len(args) >= 3:
        photos(args[0].rstrip("/"), args[1], args[2:])
    elif cmd == "metrics" and len(args) == 1:
        metrics(args[0].rstrip("/"))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
