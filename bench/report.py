#!/usr/bin/env python3
"""Turns bench/run.sh results (hyperfine JSON + peak RSS, interleaved pairs) into the README's
Markdown tables."""
import json
import os
import statistics
import sys

res = sys.argv[1]
print("| workload | command | median s | min–max s | vs b3tree | peak RSS MiB |")
print("|---|---|---:|---:|---:|---:|")
for tree in ["small", "big4", "one1g", "one4g"]:
    path = os.path.join(res, f"{tree}.json")
    if not os.path.exists(path):
        continue
    rss = {}
    with open(os.path.join(res, f"{tree}.rss")) as f:
        for line in f:
            name, kb = line.rstrip("\n").split("\t")
            rss[name] = int(kb) / 1024 if kb.isdigit() else float("nan")
    results = json.load(open(path))["results"]
    ours = statistics.median(results[0]["times"])
    for r in results:
        med = statistics.median(r["times"])
        print(f"| {tree} | {r['command']} | {med:.3f} | {min(r['times']):.3f}–{max(r['times']):.3f} "
              f"| {med / ours:.2f}× | {rss.get(r['command'], float('nan')):.1f} |")

pairs = os.path.join(res, "pairs.jsonl")
if os.path.exists(pairs):
    print()
    print("| interleaved pair (A / B) | pairs | median A s | median B s | A/B median | A/B min–max |")
    print("|---|---:|---:|---:|---:|---:|")
    with open(pairs) as f:
        for line in f:
            p = json.loads(line)
            print(f"| {p['label']} | {p['pairs']} | {p['median_a_s']:.3f} | {p['median_b_s']:.3f} "
                  f"| {p['ratio_median']:.2f} | {p['ratio_min']:.2f}–{p['ratio_max']:.2f} |")
