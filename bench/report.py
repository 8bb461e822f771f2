#!/usr/bin/env python3
"""Turns bench/run.sh results (hyperfine JSON + peak RSS, interleaved pairs; warm, and cold
when run as root) into docs/performance.md's Markdown tables."""
import json
import os
import statistics
import sys

res = sys.argv[1]
def runs_table(prefix, title):
    trees = [t for t in ["small", "mixed", "big4", "one1g", "one4g"]
             if os.path.exists(os.path.join(res, f"{prefix}{t}.json"))]
    if not trees:
        return
    print(f"{title}\n")
    print("| workload | command | median s | min–max s | vs b3tree | peak RSS MiB |")
    print("|---|---|---:|---:|---:|---:|")
    for tree in trees:
        rss = {}
        with open(os.path.join(res, f"{prefix}{tree}.rss")) as f:
            for line in f:
                name, kb = line.rstrip("\n").split("\t")
                rss[name] = int(kb) / 1024 if kb.isdigit() else float("nan")
        results = json.load(open(os.path.join(res, f"{prefix}{tree}.json")))["results"]
        ours = statistics.median(results[0]["times"])
        for r in results:
            med = statistics.median(r["times"])
            print(f"| {tree} | {r['command']} | {med:.3f} | {min(r['times']):.3f}–{max(r['times']):.3f} "
                  f"| {med / ours:.2f}× | {rss.get(r['command'], float('nan')):.1f} |")
    print()


def pairs_table(name, title):
    path = os.path.join(res, name)
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return
    print(f"{title}\n")
    print("| interleaved pair (A / B) | pairs | median A s | median B s | A/B median | A/B min–max |")
    print("|---|---:|---:|---:|---:|---:|")
    with open(path) as f:
        for line in f:
            p = json.loads(line)
            print(f"| {p['label']} | {p['pairs']} | {p['median_a_s']:.3f} | {p['median_b_s']:.3f} "
                  f"| {p['ratio_median']:.2f} | {p['ratio_min']:.2f}–{p['ratio_max']:.2f} |")
    print()


runs_table("", "Warm, every command (hyperfine, median of the runs after a warm-up):")
pairs_table("pairs.jsonl", "Warm, interleaved pairs:")
runs_table("cold-", "Cold, every cache dropped before every run (hyperfine --prepare):")
pairs_table("cold-pairs.jsonl", "Cold, interleaved pairs, every cache dropped before every run:")
pairs_table("prev-pairs.jsonl", "This build against the previous one (PREV), interleaved pairs, warm:")
