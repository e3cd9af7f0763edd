#!/usr/bin/env python3
"""A local openFDA enforcement feed for bench/ingest.

Serves `GET /<name>/enforcement.json?search=...&limit=L&skip=S` like openFDA
(`{"meta": {"results": {"skip", "limit", "total"}}, "results": [...]}`), with
`--records` realistic food enforcement reports. Pages are rendered once at
start (bytes in memory), so the feed costs the server's pull little more than
the socket. Every request with `skip=0` starts a new *pass* for that name.
Pass 1 serves the reports as rendered (a pull inserts them); every later pass
changes each report's `code_info` (a pull updates every recall, and the
catalogue keeps its size, so searches before and during later pulls see the
same data). The date filter is accepted but not applied (every record lies
in the pull's one window).

  ingest_feed.py --records 100000 --page-size 1000 --port-file PATH [--port 0]

Prints nothing; writes the bound port to --port-file once listening; logs
one line per pass to stderr. Stops on SIGTERM.
"""
import argparse
import json
import random
import signal
import sys
import threading
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

FIRMS = ["Sunny Farms Inc.", "Little Sprout Foods", "Golden Valley Bakery", "Nature's Cradle LLC",
         "Happy Tummy Co.", "Blue River Dairy", "Harvest Moon Snacks", "Tiny Bites Nutrition"]
PRODUCTS = ["Organic Baby Rice Cereal", "Whole Milk Yogurt Melts", "Peanut Butter Crackers",
            "Apple Cinnamon Teething Wafers", "Infant Formula Powder", "Veggie Puffs",
            "Chocolate Chip Granola Bars", "Strawberry Fruit Pouches", "Cheddar Cheese Snacks",
            "Honey Wheat Pretzels", "Toddler Oat Bites", "Mango Puree"]
REASONS = ["Undeclared milk", "Undeclared peanuts", "Potential Listeria monocytogenes contamination",
           "Undeclared soy and wheat", "Elevated levels of lead", "Foreign material (plastic pieces)",
           "Potential Salmonella contamination", "Undeclared egg"]
CLASSES = ["Class I", "Class II", "Class III"]
STATES = ["CA", "TX", "NY", "OH", "WA", "FL", "IL", "PA"]


def upc(rng):
    digits = [rng.randrange(10) for _ in range(11)]
    odd = sum(digits[0::2]) * 3 + sum(digits[1::2])
    digits.append((10 - odd % 10) % 10)
    s = "".join(map(str, digits))
    return f"{s[0]} {s[1:6]} {s[6:11]} {s[11]}"


def record(n, rng, today):
    day = today - timedelta(days=1 + n % 28)
    ymd = day.strftime("%Y%m%d")
    product = PRODUCTS[n % len(PRODUCTS)]
    firm = FIRMS[(n // 7) % len(FIRMS)]
    size = rng.choice(["4 oz", "8 oz", "12 oz", "16 oz", "1.5 oz"])
    return {
        "recall_number": f"F-{n:07d}-2024",
        "event_id": str(90000 + n // 3),
        "status": rng.choice(["Ongoing", "Ongoing", "Completed", "Terminated"]),
        "classification": CLASSES[n % 3],
        "product_type": "Food",
        "product_description": f"{product}, {size} pouches. Net Wt. {size}. Distributed in cartons of 12. "
                               f"UPC {upc(rng)}.",
        "code_info": f"Lot #{rng.randrange(100000, 999999)}, Best By {(day + timedelta(days=300)).isoformat()}",
        "product_quantity": f"{rng.randrange(100, 90000)} cases",
        "reason_for_recall": f"{REASONS[n % len(REASONS)]} in {product.lower()}.",
        "recalling_firm": firm,
        "city": "Springfield",
        "state": STATES[n % len(STATES)],
        "country": "United States",
        "distribution_pattern": "Nationwide in the USA through retail stores and online.",
        "voluntary_mandated": "Voluntary: Firm initiated",
        "initial_firm_notification": "Press Release",
        "recall_initiation_date": ymd,
        "report_date": ymd,
        "center_classification_date": ymd,
    }


class Feed:
    """Pages rendered once at start; pass `p` differs from pass 1 only in the
    reports' `code_info` (a bytes replace, ~1 ms per page)."""

    def __init__(self, records, page_size, seed):
        self.records = records
        self.page_size = page_size
        self.lock = threading.Lock()
        self.passes = {}  # name -> pass number
        today = date.today()
        self.template = {}
        for skip in range(0, records, page_size):
            rng = random.Random(f"{seed}-{skip}")
            results = [record(n, rng, today) for n in range(skip, min(skip + page_size, records))]
            meta = {"results": {"skip": skip, "limit": page_size, "total": records}}
            self.template[skip] = json.dumps({"meta": meta, "results": results}).encode()

    def page(self, name, skip, limit):
        if limit != self.page_size or (skip % self.page_size and skip < self.records):
            return 400, b'{"error": {"code": "BAD_REQUEST", "message": "skip and limit must follow --page-size"}}'
        with self.lock:
            if skip == 0 or name not in self.passes:
                self.passes[name] = self.passes.get(name, 0) + 1
                print(f"[feed] {name}: pass {self.passes[name]}", file=sys.stderr, flush=True)
            pass_no = self.passes[name]
        body = self.template.get(skip)
        if body is None:
            return 404, b'{"error": {"code": "NOT_FOUND", "message": "No matches found!"}}'
        if pass_no > 1:
            body = body.replace(b'"code_info": "Lot #', b'"code_info": "Revision %d, Lot #' % pass_no)
        return 200, body


def handler(feed):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            url = urlsplit(self.path)
            parts = url.path.strip("/").split("/")
            if len(parts) != 2 or parts[1] != "enforcement.json":
                self.send(404, b'{"error": {"code": "NOT_FOUND", "message": "no such endpoint"}}')
                return
            query = parse_qs(url.query, keep_blank_values=True)
            try:
                skip = int(query.get("skip", ["0"])[0])
                limit = int(query.get("limit", ["100"])[0])
            except ValueError:
                self.send(400, b'{"error": {"code": "BAD_REQUEST", "message": "bad skip or limit"}}')
                return
            status, body = feed.page(parts[0], skip, limit)
            self.send(status, body)

        def send(self, status, body):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that hangs up (a pull stopped, a timeout) is not an error here.
        if not isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError)):
            super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, required=True)
    ap.add_argument("--page-size", type=int, default=1000)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    feed = Feed(args.records, args.page_size, args.seed)
    server = Server(("127.0.0.1", args.port), handler(feed))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    with open(args.port_file, "w") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
