#!/usr/bin/env python3
"""Generates the standard benchmark trees (fixed seed, so every machine gets the same bytes).

  gen_tree.py small DIR [COUNT]   COUNT files (default 100000) of 64 B..64 KiB, log-uniform,
                                  100 files per directory, two directory levels
  gen_tree.py big DIR N SIZE      N files of SIZE bytes (e.g. 4 1073741824), random content
  gen_tree.py mixed DIR           a real-looking tree: 117,772 files, 2,953 directories up to
                                  12 deep, ~40 files each; sizes log-normal (p50 4.3 KB, p90
                                  21 KB, p99 175 KB) plus 55 files of 4-44 MiB (1.3 GB) among
                                  them: 2.6 GB
  gen_tree.py tiny DIR [COUNT]    COUNT files (default 1000000) of 1..512 B, 1000 directories
                                  (the `hash --update` benchmark: many files, little data)
  gen_tree.py empty DIR COUNT     COUNT empty files, 1,000 per directory (d0000/f0000000…):
                                  the scale benchmark (bench/scale.sh), names and inodes only
  gen_tree.py touch DIR N [COUNT] appends to N files of a tiny tree of COUNT files, spread
                                  evenly
"""
import math
import os
import random
import sys


def small(root, count):
    rng = random.Random(20261125)
    lo, hi = math.log(64), math.log(64 * 1024)
    for i in range(count):
        d = os.path.join(root, f"d{i // 10000:02d}", f"e{(i // 100) % 100:02d}")
        if i % 100 == 0:
            os.makedirs(d, exist_ok=True)
        size = int(math.exp(rng.uniform(lo, hi)))
        with open(os.path.join(d, f"f{i:06d}.bin"), "wb") as f:
            f.write(rng.randbytes(size))


def big(root, n, size):
    rng = random.Random(4)
    os.makedirs(root, exist_ok=True)
    block = 1 << 20
    for i in range(n):
        with open(os.path.join(root, f"big{i}.bin"), "wb") as f:
            left = size
            while left > 0:
                k = min(block, left)
                f.write(rng.randbytes(k))
                left -= k


def mixed(root):
    rng = random.Random(117772)
    dirs = [(root, 0)]
    os.makedirs(root, exist_ok=True)
    while len(dirs) < 2953:
        # New directories hang mostly off recent ones: deep chains as well as wide levels.
        parent, depth = dirs[max(0, len(dirs) - 1 - int(rng.expovariate(1 / 40)))]
        if depth >= 12:
            # A full-depth chain: start again from a directory anywhere in the tree.
            parent, depth = dirs[rng.randrange(len(dirs))]
            if depth >= 12:
                parent, depth = root, 0
        d = os.path.join(parent, f"dir{len(dirs):04d}")
        os.makedirs(d, exist_ok=True)
        dirs.append((d, depth + 1))
    big = set(rng.sample(range(117772), 55))
    for i in range(117772):
        d = dirs[i // 40 % len(dirs)][0]
        if i in big:
            size = rng.randint(4 << 20, 44 << 20)
        else:
            z = rng.gauss(0, 1)
            # Piecewise log-normal: the body to p90, a heavier tail to p99.
            if z <= 1.2816:
                size = 4300 * math.exp(1.2375 * z)
            else:
                size = 21000 * math.exp(2.03 * (z - 1.2816))
            size = min(int(size), (4 << 20) - 1)
        with open(os.path.join(d, f"f{i:06d}.dat"), "wb") as f:
            f.write(rng.randbytes(size))


def tiny(root, count):
    rng = random.Random(1000000)
    for i in range(count):
        d = os.path.join(root, f"d{i % 1000:03d}")
        if i < 1000:
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i:07d}"), "wb") as f:
            f.write(rng.randbytes(rng.randint(1, 512)))


def empty(root, count):
    for i in range(count):
        d = os.path.join(root, f"d{i // 1000:04d}")
        if i % 1000 == 0:
            os.makedirs(d, exist_ok=True)
        # One system call per file: mknod makes an empty regular file.
        os.mknod(os.path.join(d, f"f{i:07d}"))


def touch(root, n, count=1_000_000):
    for k in range(n):
        i = k * (count // n)
        path = os.path.join(root, f"d{i % 1000:03d}", f"f{i:07d}")
        with open(path, "ab") as f:
            f.write(b"changed\n")


if __name__ == "__main__":
    kind, root = sys.argv[1], sys.argv[2]
    if kind == "small":
        small(root, int(sys.argv[3]) if len(sys.argv) > 3 else 100_000)
    elif kind == "mixed":
        mixed(root)
    elif kind == "tiny":
        tiny(root, int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000)
    elif kind == "empty":
        empty(root, int(sys.argv[3]))
    elif kind == "touch":
        touch(root, int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 1_000_000)
    elif kind == "big":
        big(root, int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(__doc__)
