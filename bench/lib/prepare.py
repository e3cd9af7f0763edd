#!/usr/bin/env python3
"""Derive the request inputs of the load scenarios from a recall data set.

    prepare.py DATASET OUTDIR [--seed 7] [--barcodes 2000] [--ids 2000]

Reads the JSON Lines data set once (streaming: fine for millions of lines)
and writes into OUTDIR:

  search.txt    one JSON request body per line for POST /api/v1/search/advanced
                (~40 queries: typical parent queries, misspellings, two-word
                queries, brand names taken from the data set, a few with filters)
  barcodes.txt  one barcode per line: codes sampled from the recalls' `upcs`,
                plus 10 % valid (GS1 check digit) UPC-A codes that appear in no
                recall (the "this product is fine" answer)
  ids.txt       one recall id per line, sampled from the data set
  unknown_barcodes.txt  the codes of barcodes.txt that match no recall
  meta.json     what was written (counts, the query list) for the results file

Sampling is reservoir sampling with a fixed seed, so the inputs for a given
data set are reproducible. Lines are shuffled so that consecutive requests hit
unrelated rows.
"""
import argparse
import collections
import json
import os
import random
import sys

# Typical queries a parent types into the app: single products, product +
# "recall", allergens, misspellings (the server's typo tolerance), two words.
BASE_QUERIES = [
    "crib", "stroller recall", "pacifier", "car seat", "peanut", "baby formula",
    "teether", "high chair", "bassinet", "baby monitor", "sleeper", "bottle",
    "infant formula", "walker", "bath seat", "baby carrier", "play yard",
    "rattle", "toy", "magnets", "button battery", "choking hazard",
    "undeclared milk", "sippy cup", "diaper", "swing", "bouncer", "onesie",
    "pacifer", "stroler", "carseat", "formla", "teather", "hight chair",
    "crib mattress", "baby food", "convertible car seat",
]
# A few requests carry filters, as the app's filter sheet sends them.
FILTERED = [
    ("car seat", {"agencies": ["NHTSA", "TRANSPORT_CANADA"]}),
    ("crib", {"severity": "high"}),
    ("peanut", {"riskCategory": "food"}),
    ("stroller", {"agencies": ["CPSC"], "severity": "high"}),
]
BRAND_QUERIES = 5          # brand names alone
BRAND_PRODUCT_QUERIES = 3  # "<brand> <product word>"
FAKE_BARCODE_SHARE = 0.10


def gs1_check_digit(body: str) -> str:
    """GS1 mod-10 check digit for the digits in `body` (without the check digit)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return str((10 - total % 10) % 10)


def gtin14(code: str) -> str:
    digits = "".join(ch for ch in code if ch.isdigit())
    return digits.rjust(14, "0")


class Reservoir:
    def __init__(self, size, rng):
        self.size, self.rng, self.items, self.seen = size, rng, [], 0

    def add(self, item):
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(item)
        else:
            j = self.rng.randrange(self.seen)
            if j < self.size:
                self.items[j] = item


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset")
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--barcodes", type=int, default=2000, help="barcode lines (incl. 10%% unknown)")
    ap.add_argument("--ids", type=int, default=2000, help="recall id lines")
    args = ap.parse_args()
    rng = random.Random(args.seed)

    n_fake = max(1, round(args.barcodes * FAKE_BARCODE_SHARE))
    n_real = args.barcodes - n_fake
    # Candidate unknown barcodes: UPC-A, number system 0, random company/item.
    # Candidates found in the data set are dropped during the single pass.
    candidates = {}
    while len(candidates) < n_fake * 3:
        body = "0" + "".join(str(rng.randrange(10)) for _ in range(10))
        code = body + gs1_check_digit(body)
        candidates[gtin14(code)] = code

    real_codes = Reservoir(n_real, rng)
    ids = Reservoir(args.ids, rng)
    brands = collections.Counter()
    brand_products = {}
    records = 0
    with open(args.dataset, "r", encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            rec = json.loads(line)
            records += 1
            ids.add(rec["id"])
            codes = list(rec.get("upcs") or [])
            if rec.get("upc") and rec["upc"] not in codes:
                codes.append(rec["upc"])
            for code in codes:
                real_codes.add(code)
                candidates.pop(gtin14(code), None)
            brand = rec.get("brand")
            if brand:
                brands[brand] += 1
                if brand not in brand_products and rec.get("productName"):
                    brand_products[brand] = rec["productName"]
    if records == 0:
        sys.exit(f"prepare: {args.dataset} holds no recalls")
    if not real_codes.items:
        sys.exit(f"prepare: {args.dataset} holds no barcodes")
    fakes = list(candidates.values())[:n_fake]

    # Brand queries: the most frequent brands (what many users search) and
    # some random ones from the long tail.
    common = [b for b, _ in brands.most_common(BRAND_QUERIES + BRAND_PRODUCT_QUERIES)]
    tail = sorted(set(brands) - set(common))
    rng.shuffle(tail)
    brand_queries = common[:3] + tail[: BRAND_QUERIES - 3]
    two_word = []
    for b in (common[3:] + tail[BRAND_QUERIES - 3:])[:BRAND_PRODUCT_QUERIES]:
        words = [w for w in brand_products.get(b, "").split() if len(w) > 2]
        two_word.append(f"{b.split()[0]} {words[-1].lower()}" if words else b)

    bodies = []
    for q in BASE_QUERIES + brand_queries + two_word:
        bodies.append({"query": q, "limit": 20})
    for q, filters in FILTERED:
        bodies.append({"query": q, "limit": 20, **filters})
    rng.shuffle(bodies)

    barcodes = real_codes.items + fakes
    rng.shuffle(barcodes)
    id_list = list(ids.items)
    rng.shuffle(id_list)

    os.makedirs(args.outdir, exist_ok=True)

    def write_lines(name, lines):
        path = os.path.join(args.outdir, name)
        with open(path + ".tmp", "w", encoding="utf-8") as out:
            for item in lines:
                out.write(item + "\n")
        os.replace(path + ".tmp", path)

    write_lines("search.txt", [json.dumps(b, separators=(",", ":")) for b in bodies])
    write_lines("barcodes.txt", barcodes)
    write_lines("ids.txt", id_list)
    write_lines("unknown_barcodes.txt", fakes)
    meta = {
        "records": records,
        "search_bodies": len(bodies),
        "search_queries": [b["query"] for b in bodies],
        "barcodes": len(barcodes),
        "unknown_barcodes": len(fakes),
        "unknown_barcode_examples": fakes[:5],
        "ids": len(id_list),
        "distinct_brands": len(brands),
    }
    with open(os.path.join(args.outdir, "meta.json"), "w", encoding="utf-8") as out:
        json.dump(meta, out, indent=1)
    print(f"prepared {len(bodies)} search bodies, {len(barcodes)} barcodes "
          f"({len(fakes)} unknown), {len(id_list)} ids from {records} recalls", file=sys.stderr)


if __name__ == "__main__":
    main()
