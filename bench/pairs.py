#!/usr/bin/env python3
"""Interleaved A/B timing: the ratios behind the performance targets.

    bench/pairs.py [-n PAIRS] [--warmup N] [--prepare CMD] LABEL 'COMMAND A' 'COMMAND B' >> pairs.jsonl

Why not hyperfine alone: hyperfine runs all of one command's repetitions, then all of the
next one's, so a shared machine that slows down for a minute lands on one command. Here the
two commands alternate (A B A B ...), each pair gives a ratio A/B, and the median of those
ratios is what we quote; a drift hits both halves of a pair alike.

Each command runs under /bin/sh -c (give redirections in the command); standard error is
discarded. Wall time is measured around the process. `--prepare CMD` runs (untimed) before
every run of either command: `--prepare 'sync; echo 3 > /proc/sys/vm/drop_caches'` makes
every run cold (root only). No peak RSS here: a child forked from
Python starts with Python's resident set, which would set a floor under every figure (the
hyperfine table of bench/run.sh gives RSS from GNU time). Prints one JSON object per call.
"""
import argparse
import json
import statistics
import subprocess
import sys
import time


def run(cmd, prepare=None):
    if prepare:
        subprocess.run(["/bin/sh", "-c", prepare], check=True)
    start = time.perf_counter()
    proc = subprocess.Popen(["/bin/sh", "-c", cmd], stderr=subprocess.DEVNULL)
    status = proc.wait()
    wall = time.perf_counter() - start
    if status != 0:
        sys.exit(f"pairs.py: exit {status}: {cmd}")
    return wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=11, help="counted pairs (default 11)")
    ap.add_argument("--warmup", type=int, default=1, help="uncounted pairs first (default 1)")
    ap.add_argument("--prepare", help="untimed shell command run before every run")
    ap.add_argument("label")
    ap.add_argument("a")
    ap.add_argument("b")
    args = ap.parse_args()
    for _ in range(args.warmup):
        run(args.a, args.prepare)
        run(args.b, args.prepare)
    a, b = [], []
    for _ in range(args.n):
        a.append(run(args.a, args.prepare))
        b.append(run(args.b, args.prepare))
    ratios = [x / y for x, y in zip(a, b)]
    print(json.dumps({
        "label": args.label,
        "a": args.a,
        "b": args.b,
        "pairs": args.n,
        "prepare": args.prepare,
        "median_a_s": statistics.median(a),
        "median_b_s": statistics.median(b),
        "ratio_median": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }))


if __name__ == "__main__":
    main()
