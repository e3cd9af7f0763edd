#!/usr/bin/env python3
"""Register the accounts of bench/login and write their login bodies.

    login_users.py BASE_URL N OUT_FILE

Registers N accounts (`bench-user-<n>-<pid>@example.com`, password
`Bench-Pass-<n>-xyz`) with `POST /api/v1/auth/register` (must answer 201),
signs each one in once with `POST /api/v1/auth/token` (must answer 200 with an
access token), and writes one form-urlencoded body per line to OUT_FILE
(`username=...&password=...`, the input of bench/lua/login.lua). Any other
answer stops with exit status 1. Prints a one-line JSON summary.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def call(req):
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    base, n, out = sys.argv[1].rstrip("/"), int(sys.argv[2]), sys.argv[3]
    bodies = []
    start = time.monotonic()
    for i in range(1, n + 1):
        email = f"bench-user-{i}-{os.getpid()}@example.com"
        password = f"Bench-Pass-{i}-xyz"
        body = json.dumps({"email": email, "password": password, "confirm_password": password}).encode()
        status, text = call(urllib.request.Request(
            base + "/api/v1/auth/register", data=body, method="POST",
            headers={"Content-Type": "application/json", "Accept": "application/json"}))
        if status != 201:
            sys.exit(f"login_users: register {email}: HTTP {status}: {text[:300]!r}")
        bodies.append(urllib.parse.urlencode({"username": email, "password": password}))
    registered = time.monotonic() - start
    for form in bodies:
        status, text = call(urllib.request.Request(
            base + "/api/v1/auth/token", data=form.encode(), method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}))
        if status != 200 or b"access_token" not in text:
            sys.exit(f"login_users: login {form.split('&')[0]}: HTTP {status}: {text[:300]!r}")
    with open(out, "w") as f:
        f.write("\n".join(bodies) + "\n")
    print(json.dumps({"users": n, "register_seconds": round(registered, 3),
                      "login_check_seconds": round(time.monotonic() - start - registered, 3)}))


if __name__ == "__main__":
    main()
