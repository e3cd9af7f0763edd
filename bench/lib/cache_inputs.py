#!/usr/bin/env python3
"""Derive the search inputs of bench/cache from a recall data set.

    cache_inputs.py DATASET OUTDIR [--seed 11] [--overhead 60000] [--warmup 5000]
                    [--pool 5000] [--zipf-s 1.1] [--zipf-requests 1000000]

Reads the JSON Lines data set once (streaming) and writes into OUTDIR:

  overhead.txt   --overhead search bodies that are all different cache keys:
                 queries built from the data set's product words and brands
                 (one word, two words, brand, brand + word), each with a random
                 `limit` in 1..50, shuffled. bench/cache walks it without
                 repeating a line, so every request is a cache miss.
  warmup.txt     --warmup more bodies of the same kind, different from every
                 line of overhead.txt and of zipf-pool.txt: the warm-up of the
                 overhead and Zipf phases (it cannot pre-fill their keys).
  zipf-pool.txt  --pool distinct realistic bodies (`"limit": 20`, as the app
                 sends), most popular first: bench/prepare.py's typical parent
                 queries, then the data set's product words, brands, two-word
                 queries (product phrase, brand + word, word + word) and a few
                 with filters, in order of how often their words occur.
  zipf-seq.txt   --zipf-requests bodies drawn from the pool with a Zipf law:
                 P(rank k) ~ 1 / k^s. bench/lua/walk.lua walks it in order.
  meta.json      counts, parameters, the head of the pool, and what a cache
                 with unbounded memory would reach on the sequence
                 (`ideal_hit_ratio`: 1 - distinct / requests).

Everything is derived with a fixed seed, so the inputs of a data set are
reproducible. Two bodies are the same cache key exactly when their query
text (trimmed), filters and limit are equal; the script keeps overhead.txt,
warmup.txt and the pool disjoint on that.
"""
import argparse
import bisect
import collections
import itertools
import json
import os
import random
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in bench/lib
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prepare import BASE_QUERIES, FILTERED  # noqa: E402

WORD_RE = re.compile(r"[A-Za-z][A-Za-z'-]+")
STOP = {"and", "the", "for", "with", "from", "that", "this", "due", "recalls", "recall", "inc", "llc",
        "ltd", "co", "kids", "baby", "may", "can", "not", "are", "has", "have", "its", "was", "were",
        "into", "over", "out", "off", "all", "any", "per"}
MAX_LIMIT = 50
POOL_LIMIT = 20


def words_of(text):
    return [w.lower() for w in WORD_RE.findall(text or "") if len(w) > 2 and w.lower() not in STOP]


def key(body):
    """What the server's cache key depends on, for the bodies made here."""
    return json.dumps({k: v for k, v in body.items() if k != "query"} | {"q": body["query"].strip()},
                      sort_keys=True)


def dumps(body):
    return json.dumps(body, separators=(",", ":"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset")
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--overhead", type=int, default=60000)
    ap.add_argument("--warmup", type=int, default=5000)
    ap.add_argument("--pool", type=int, default=5000)
    ap.add_argument("--zipf-s", type=float, default=1.1)
    ap.add_argument("--zipf-requests", type=int, default=1000000)
    a = ap.parse_args()
    rng = random.Random(a.seed)

    product_words = collections.Counter()   # words of product names
    hazard_words = collections.Counter()    # words of hazards (allergens, "battery", ...)
    phrases = collections.Counter()         # product names as typed ("booster seats")
    brands = collections.Counter()
    brand_words = collections.defaultdict(collections.Counter)
    records = 0
    with open(a.dataset, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            rec = json.loads(line)
            records += 1
            name = rec.get("productName") or ""
            pw = words_of(name)
            product_words.update(set(pw))
            if 2 <= len(pw) <= 3:
                phrases[" ".join(pw)] += 1
            hazard_words.update(set(words_of(rec.get("hazard"))))
            brand = (rec.get("brand") or "").strip()
            if brand:
                brands[brand] += 1
                brand_words[brand].update(set(pw))
    if records == 0 or not product_words:
        sys.exit(f"cache_inputs: {a.dataset} holds no recalls with product names")

    words = [w for w, _ in product_words.most_common()]
    hazards = [w for w, _ in hazard_words.most_common() if w not in product_words]
    brand_list = [b for b, _ in brands.most_common()]

    # ---- Zipf pool: distinct realistic bodies, most popular first ----------
    pool, seen = [], set()

    def add(body, into, taken):
        k = key(body)
        if k in taken or len(body["query"].strip()) < 2:
            return False
        taken.add(k)
        into.append(body)
        return True

    candidates = [{"query": q, "limit": POOL_LIMIT} for q in BASE_QUERIES]
    candidates += [{"query": q, "limit": POOL_LIMIT, **flt} for q, flt in FILTERED]
    # Interleave the kinds by frequency, so popular words, brands and phrases
    # all appear near the head and the long tail mixes every kind.
    singles = [{"query": w, "limit": POOL_LIMIT} for w in words + hazards]
    brand_bodies = [{"query": b, "limit": POOL_LIMIT} for b in brand_list]
    phrase_bodies = [{"query": p, "limit": POOL_LIMIT} for p, _ in phrases.most_common()]
    brand_word = []
    for b in brand_list:
        for w, _ in brand_words[b].most_common(3):
            brand_word.append({"query": f"{b.split()[0]} {w}", "limit": POOL_LIMIT})
    pairs = [{"query": f"{x} {y}", "limit": POOL_LIMIT}
             for x, y in itertools.islice(itertools.permutations(words[:120], 2), 20000)]
    rng.shuffle(pairs)
    for group in itertools.zip_longest(singles, brand_bodies, phrase_bodies, brand_word, pairs):
        candidates += [b for b in group if b is not None]
    for body in candidates:
        if len(pool) >= a.pool:
            break
        add(body, pool, seen)
    if len(pool) < a.pool:
        print(f"cache_inputs: only {len(pool)} distinct pool bodies (asked for {a.pool})", file=sys.stderr)

    # ---- Unique bodies for the overhead and warm-up runs -------------------
    def random_query():
        r = rng.random()
        if r < 0.35:
            return rng.choice(words)
        if r < 0.55:
            return f"{rng.choice(words)} {rng.choice(words)}"
        if r < 0.75:
            return rng.choice(brand_list) if brand_list else rng.choice(words)
        if r < 0.90 and brand_list:
            return f"{rng.choice(brand_list).split()[0]} {rng.choice(words)}"
        return rng.choice(hazards or words)

    unique, taken = [], set(seen)
    need = a.overhead + a.warmup
    attempts = 0
    while len(unique) < need:
        attempts += 1
        if attempts > need * 50:
            sys.exit(f"cache_inputs: cannot find {need} distinct bodies in this data set (found {len(unique)})")
        add({"query": random_query(), "limit": rng.randint(1, MAX_LIMIT)}, unique, taken)
    rng.shuffle(unique)
    overhead, warmup = unique[:a.overhead], unique[a.overhead:]

    # ---- Zipf sequence -----------------------------------------------------
    n = len(pool)
    weights = [1.0 / (k ** a.zipf_s) for k in range(1, n + 1)]
    cdf = list(itertools.accumulate(weights))
    total = cdf[-1]
    ranks = [bisect.bisect_left(cdf, rng.random() * total) for _ in range(a.zipf_requests)]
    ranks = [min(r, n - 1) for r in ranks]
    distinct = len(set(ranks))

    os.makedirs(a.outdir, exist_ok=True)

    def write_lines(name, lines):
        path = os.path.join(a.outdir, name)
        with open(path + ".tmp", "w", encoding="utf-8") as out:
            for item in lines:
                out.write(item + "\n")
        os.replace(path + ".tmp", path)

    write_lines("overhead.txt", (dumps(b) for b in overhead))
    write_lines("warmup.txt", (dumps(b) for b in warmup))
    pool_lines = [dumps(b) for b in pool]
    write_lines("zipf-pool.txt", pool_lines)
    write_lines("zipf-seq.txt", (pool_lines[r] for r in ranks))
    counts = collections.Counter(ranks)
    meta = {
        "records": records,
        "seed": a.seed,
        "overhead_bodies": len(overhead),
        "warmup_bodies": len(warmup),
        "pool": len(pool),
        "zipf_s": a.zipf_s,
        "zipf_requests": len(ranks),
        "zipf_distinct_in_sequence": distinct,
        "ideal_hit_ratio": round(1 - distinct / len(ranks), 4) if ranks else None,
        "top1_share": round(counts[0] / len(ranks), 4) if ranks else None,
        "top10_share": round(sum(counts[i] for i in range(10)) / len(ranks), 4) if ranks else None,
        "top100_share": round(sum(counts[i] for i in range(100)) / len(ranks), 4) if ranks else None,
        "pool_head": [b["query"] for b in pool[:20]],
        "distinct_product_words": len(words),
        "distinct_brands": len(brand_list),
        "args": {"overhead": a.overhead, "warmup": a.warmup, "pool": a.pool, "zipf_s": a.zipf_s,
                 "zipf_requests": a.zipf_requests, "seed": a.seed},
    }
    with open(os.path.join(a.outdir, "meta.json"), "w", encoding="utf-8") as out:
        json.dump(meta, out, indent=1)
    print(f"cache inputs: {len(overhead)} unique overhead bodies (+{len(warmup)} warm-up), Zipf pool {len(pool)}, "
          f"sequence {len(ranks)} (s={a.zipf_s}, {distinct} distinct, ideal hit ratio "
          f"{meta['ideal_hit_ratio']:.3f}) from {records} recalls", file=sys.stderr)


if __name__ == "__main__":
    main()
