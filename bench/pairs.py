#!/usr/bin/env python3
"""Interleaved A/B timing: the ratios behind the performance targets.

    bench/pairs.py [-n PAIRS] [--warmup N] LABEL 'COMMAND A' 'COMMAND B' >> pairs.jsonl

Why not hyperfine alone: hyperfine runs all of one command's repetitions, then all of the
next one's, so a shared machine that slows down for a minute lands on one command. Here the
two commands alternate (A B A B ...), each pair gives a ratio A/B, and the median of those
ratios is what we quote; a drift hits both halves of a pair alike.

Each command runs under /bin/sh -c (give redirections in the command). Wall time is measured
around the process; peak RSS is the largest ru_maxrss of the shell's process tree as
reported by wait4; standard error is discarded. Prints one JSON object per call.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def run(cmd):
    start = time.perf_counter()
    proc = subprocess.Popen(["/bin/sh", "-c", cmd], stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"pairs.py: exit {proc.returncode}: {cmd}")
    return wall, usage.ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=11, help="counted pairs (default 11)")
    ap.add_argument("--warmup", type=int, default=1, help="uncounted pairs first (default 1)")
    ap.add_argument("label")
    ap.add_argument("a")
    ap.add_argument("b")
    args = ap.parse_args()
    for _ in range(args.warmup):
        run(args.a)
        run(args.b)
    a, b, rss_a, rss_b = [], [], [], []
    for _ in range(args.n):
        wa, ra = run(args.a)
        wb, rb = run(args.b)
        a.append(wa)
        b.append(wb)
        rss_a.append(ra)
        rss_b.append(rb)
    ratios = [x / y for x, y in zip(a, b)]
    print(json.dumps({
        "label": args.label,
        "a": args.a,
        "b": args.b,
        "pairs": args.n,
        "median_a_s": statistics.median(a),
        "median_b_s": statistics.median(b),
        "ratio_median": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "peak_rss_a_mib": max(rss_a),
        "peak_rss_b_mib": max(rss_b),
    }))


if __name__ == "__main__":
    main()
