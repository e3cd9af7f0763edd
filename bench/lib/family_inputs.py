#!/usr/bin/env python3
"""Request inputs of bench/family: safety-check bodies and the photo codes.

    family_inputs.py barcodes DATASET OUTDIR [--max-known 2000] [--seed 42]
    family_inputs.py photo-codes SAMPLE N

`barcodes` reads the JSON Lines data set once (streaming) and writes into
OUTDIR:

  known.txt     barcodes of the data set's recalls (`upc` / `upcs`) with a
                valid GS1 check digit: all of them when there are at most
                --max-known distinct ones (the sample data: all its codes),
                otherwise --max-known sampled with a fixed seed
  unknown.txt   as many valid EAN-13 codes (GS1 check digit computed) that
                match no recall of the data set (compared as GTIN-14)
  bodies.txt    one `{"barcode": "..."}` body per line for
                POST /api/v1/safety-check: known and unknown codes ~50/50,
                shuffled with the seed (consecutive requests hit unrelated rows)
  meta.json     counts, examples and the source data set

Codes with a wrong check digit are left out (the server answers them 400)
and counted in meta.json.

`photo-codes` prints N distinct 13-digit (EAN-13) codes of SAMPLE with a
valid check digit, one per line, starting with 9340431297480 (Baby Rusks,
undeclared milk) when present, then in file order: the codes of the
benchmark photos.
"""
import argparse
import json
import os
import random
import sys

FIRST_PHOTO_CODE = "9340431297480"


def gs1_check_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return str((10 - total % 10) % 10)


def valid_gtin(code: str) -> bool:
    return code.isdigit() and len(code) in (8, 12, 13, 14) and gs1_check_digit(code[:-1]) == code[-1]


def gtin14(code: str) -> str:
    return code.rjust(14, "0")


def record_codes(rec):
    codes = list(rec.get("upcs") or [])
    if rec.get("upc") and rec["upc"] not in codes:
        codes.append(rec["upc"])
    return [c.strip() for c in codes if isinstance(c, str) and c.strip()]


def barcodes(args):
    rng = random.Random(args.seed)
    seen = set()       # GTIN-14 of every code in the data set (valid or not)
    valid = []         # reservoir of distinct valid codes, as written in the data
    distinct_valid = 0
    invalid = set()
    lines = 0
    with open(args.dataset, encoding="utf-8") as f:
        for line in f:
            if '"upc' not in line:
                lines += 1
                continue
            lines += 1
            for code in record_codes(json.loads(line)):
                key = gtin14(code)
                if key in seen:
                    continue
                seen.add(key)
                if not valid_gtin(code):
                    invalid.add(code)
                    continue
                distinct_valid += 1
                if len(valid) < args.max_known:
                    valid.append(code)
                else:
                    j = rng.randrange(distinct_valid)
                    if j < args.max_known:
                        valid[j] = code
    if not valid:
        sys.exit(f"family_inputs: {args.dataset} holds no valid barcodes")
    unknown = []
    while len(unknown) < len(valid):
        # EAN-13 with a GS1 country prefix (300-499 / 500-509 / 690-699 / 750-759 ...).
        prefix = rng.choice(["30", "40", "41", "42", "50", "69", "75", "80", "84", "87", "93"])
        body = prefix + "".join(str(rng.randrange(10)) for _ in range(12 - len(prefix)))
        code = body + gs1_check_digit(body)
        if gtin14(code) in seen:
            continue
        seen.add(gtin14(code))
        unknown.append(code)
    bodies = [json.dumps({"barcode": c}) for c in valid + unknown]
    rng.shuffle(bodies)
    os.makedirs(args.outdir, exist_ok=True)

    def write(name, items):
        tmp = os.path.join(args.outdir, name + ".tmp")
        with open(tmp, "w") as f:
            f.write("\n".join(items) + "\n")
        os.replace(tmp, os.path.join(args.outdir, name))

    write("known.txt", valid)
    write("unknown.txt", unknown)
    write("bodies.txt", bodies)
    meta = {"dataset": os.path.abspath(args.dataset), "dataset_lines": lines, "seed": args.seed,
            "known": len(valid), "known_distinct_in_dataset": distinct_valid, "unknown": len(unknown),
            "bodies": len(bodies), "invalid_check_digit_skipped": len(invalid),
            "known_examples": valid[:5], "unknown_examples": unknown[:5]}
    with open(os.path.join(args.outdir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(f"family inputs: {len(valid)} known + {len(unknown)} unknown barcodes "
          f"({len(invalid)} invalid codes of the data set skipped)", file=sys.stderr)


def photo_codes(args):
    codes = []
    with open(args.sample, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                for code in record_codes(json.loads(line)):
                    if len(code) == 13 and valid_gtin(code) and code not in codes:
                        codes.append(code)
    if FIRST_PHOTO_CODE in codes:
        codes.remove(FIRST_PHOTO_CODE)
        codes.insert(0, FIRST_PHOTO_CODE)
    if len(codes) < args.n:
        sys.exit(f"family_inputs: {args.sample} has only {len(codes)} valid EAN-13 codes")
    print("\n".join(codes[:args.n]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("barcodes")
    b.add_argument("dataset")
    b.add_argument("outdir")
    b.add_argument("--max-known", type=int, default=2000)
    b.add_argument("--seed", type=int, default=42)
    p = sub.add_parser("photo-codes")
    p.add_argument("sample")
    p.add_argument("n", type=int)
    args = ap.parse_args()
    barcodes(args) if args.cmd == "barcodes" else photo_codes(args)


if __name__ == "__main__":
    main()
