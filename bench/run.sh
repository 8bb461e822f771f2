#!/usr/bin/env bash
# The project benchmark: b3tree against b3sum (and rhash/hashdeep if installed) on the
# standard trees, median wall time of several runs (hyperfine) and peak RSS (/usr/bin/time).
#
#   bench/run.sh [WORKDIR] [RUNS]      (default /tmp/b3tree-bench, 5 runs)
#
# Prints two tables: every command's median (hyperfine, each command's runs back to back),
# then b3tree against its reference with the two alternating (bench/pairs.py, PAIRS=11 pairs),
# on the generated trees and on real ones (REAL_TREES; default /usr/lib and the Rust
# toolchain); then this build against the previous one, interleaved (PREV=REV, see below);
# as root also cold caches and sshfs (bench/sshfs.sh).
# On the small-file and mixed trees it also times bench/floor.rs, the lean loop (walk, then one thread per
# core: open, read, hash, close) that bounds what any tool can reach with those system calls.
#
# Needs: hyperfine and time (apt-get install -y hyperfine time), b3sum (cargo install b3sum
# --locked), python3; optional: rhash, hashdeep. Generates (once, fixed seed) in WORKDIR:
#   small/  100,000 files of 64 B..64 KiB (log-uniform sizes)   ~0.95 GB
#   mixed/  117,772 files, 2,953 dirs up to 12 deep; log-normal sizes (p50 4.3 KB, p99
#           175 KB) with 55 files of 4-44 MiB among them, like a real source tree  ~2.7 GB
#   big4/   4 files of 1 GiB                                     4 GiB
#   one1g/  one 1 GiB file;  one4g/  one 4 GiB file              5 GiB
# Warm page cache: hyperfine's warm-up run reads every tree first; RAM must hold a tree.
#
# Cold (as root only; COLD=0 skips it, COLD=1 insists): the same trees with every cache
# dropped before every run (`sync; echo 3 > /proc/sys/vm/drop_caches`: page cache, dentries,
# inodes): b3tree's default against fixed --jobs, xargs b3sum and the floor (hyperfine
# --prepare, COLD_RUNS runs, default 5), then the cold targets as interleaved pairs
# (COLD_PAIRS, default 7). A VM's "cold" may still be cached by its host: read the spread.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-/tmp/b3tree-bench}"
runs="${2:-5}"
mkdir -p "$work"
for tool in hyperfine b3sum python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (see the header of $0)" >&2; exit 2; }
done
(cd "$here/.." && cargo build --release --locked -q --bin b3tree --example floor)
b3tree="$here/../target/release/b3tree"
# The lean loop of bench/floor.rs: what open/read/close per file costs on this machine at least.
floor="$here/../target/release/examples/floor"

[ -d "$work/small" ] || python3 "$here/gen_tree.py" small "$work/small"
[ -d "$work/mixed" ] || python3 "$here/gen_tree.py" mixed "$work/mixed"
[ -d "$work/big4" ] || python3 "$here/gen_tree.py" big "$work/big4" 4 1073741824
[ -d "$work/one1g" ] || { mkdir -p "$work/one1g"; cp "$work/big4/big0.bin" "$work/one1g/"; }
[ -d "$work/one4g" ] || python3 "$here/gen_tree.py" big "$work/one4g" 1 4294967296
"$b3tree" hash -q -C "$work/small" -o "$work/small.b3"
# Freshly generated trees leave gigabytes of dirty pages: their writeback would run during
# the first measurements and take CPU from whichever command is running.
sync

np="$(nproc)"
results="$work/results"
mkdir -p "$results"
for tree in small mixed big4 one1g one4g; do
    dir="$work/$tree"
    cmds=(
        "$b3tree hash $dir > /dev/null"
        "find $dir -type f -print0 | xargs -0 b3sum > /dev/null"
        "find $dir -type f -print0 | xargs -0 -P$np -n 5000 b3sum > /dev/null"
    )
    names=("b3tree hash" "xargs b3sum" "xargs -P$np -n 5000 b3sum")
    if [ "$tree" = small ]; then
        cmds+=("cd $dir && $b3tree check -q ../small.b3 > /dev/null")
        names+=("b3tree check (manifest of this tree)")
    fi
    if [ "$tree" = small ] || [ "$tree" = mixed ]; then
        cmds+=("$floor $dir > /dev/null")
        names+=("floor: lean loop, no guarantees (bench/floor.rs)")
    fi
    if command -v rhash >/dev/null; then
        cmds+=("rhash -r --sha256 $dir > /dev/null"); names+=("rhash -r --sha256 (other hash)")
    fi
    if command -v hashdeep >/dev/null; then
        cmds+=("hashdeep -r -c sha256 $dir > /dev/null"); names+=("hashdeep -r -c sha256 (other hash)")
    fi
    args=()
    for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
    hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$results/$tree.json" "${args[@]}" >&2
    : > "$results/$tree.rss"
    for i in "${!cmds[@]}"; do
        kb="$( { /usr/bin/time -f '%M' sh -c "${cmds[$i]}" 2>&1 >/dev/null; } | tail -1)"
        printf '%s\t%s\n' "${names[$i]}" "$kb" >> "$results/$tree.rss"
    done
done
# The issue's targets as interleaved ratios (bench/pairs.py): b3tree against its reference,
# A B A B ..., median of the pairwise ratios.
pairs="${PAIRS:-11}"
: > "$results/pairs.jsonl"
pair() { python3 "$here/pairs.py" -n "$pairs" "$@" >> "$results/pairs.jsonl"; }
small="$work/small"
xargs_small="find $small -type f -print0 | xargs -0 -P$np -n 5000 b3sum > /dev/null"
pair "100k files vs xargs -P$np b3sum" "$b3tree hash $small > /dev/null" "$xargs_small"
pair "100k files vs the floor (bench/floor.rs)" "$b3tree hash $small > /dev/null" "$floor $small > /dev/null"
pair "the floor vs xargs -P$np b3sum" "$floor $small > /dev/null" "$xargs_small"
pair "mixed tree vs the floor (bench/floor.rs)" "$b3tree hash $work/mixed > /dev/null" \
    "$floor $work/mixed > /dev/null"
pair "4 x 1 GiB vs b3sum" "$b3tree hash $work/big4 > /dev/null" "b3sum $work/big4/* > /dev/null"
pair "1 GiB vs b3sum" "$b3tree hash $work/one1g > /dev/null" "b3sum $work/one1g/* > /dev/null"
pair "4 GiB vs b3sum" "$b3tree hash $work/one4g > /dev/null" "b3sum $work/one4g/* > /dev/null"
pair "check vs hash, 100k files" "cd $small && $b3tree check -q ../small.b3 > /dev/null" \
    "$b3tree hash $small > /dev/null"

# Real trees (generators miss what they have: fan-out, hard links, sizes at the thresholds):
# every existing directory of REAL_TREES (default: /usr/lib and the active Rust toolchain),
# warm, against the lean loop.
real_trees="${REAL_TREES-/usr/lib $(rustc --print sysroot 2>/dev/null || true)}"
for dir in $real_trees; do
    [ -d "$dir" ] || continue
    pair "real tree $dir vs the floor (bench/floor.rs)" "$b3tree hash $dir > /dev/null" \
        "$floor $dir > /dev/null"
done

# The previous build, in the same run (interleaved), so that a loss of a few percent shows
# when it is made. PREV=REV names it (any git revision); by default it is HEAD when src/ or
# Cargo.* have uncommitted changes, else the commit before the last one that changed them;
# PREV=none skips this part. Built from `git archive` into WORKDIR/prev-src.
prev="${PREV:-auto}"
: > "$results/prev-pairs.jsonl"
repo="$here/.."
if [ "$prev" = auto ]; then
    if git -C "$repo" diff --quiet HEAD -- src Cargo.toml Cargo.lock; then
        prev="$(git -C "$repo" log -1 --format=%H -- src Cargo.toml Cargo.lock)^"
    else
        prev=HEAD
    fi
fi
if [ "$prev" != none ]; then
    rev="$(git -C "$repo" rev-parse --verify --short "$prev^{commit}")"
    rm -rf "$work/prev-src"
    mkdir -p "$work/prev-src"
    git -C "$repo" archive "$rev" | tar -x -C "$work/prev-src"
    (cd "$work/prev-src" && CARGO_TARGET_DIR="$work/prev-target" \
        cargo build --release --locked -q --bin b3tree)
    old="$work/prev-target/release/b3tree"
    ppair() { python3 "$here/pairs.py" -n "$pairs" "$@" >> "$results/prev-pairs.jsonl"; }
    for dir in "$small" "$work/mixed" "$work/big4" $real_trees; do
        [ -d "$dir" ] || continue
        ppair "hash $dir: this build vs $rev" "$b3tree hash $dir > /dev/null" \
            "$old hash $dir > /dev/null"
    done
    ppair "check, 100k files: this build vs $rev" \
        "cd $small && $b3tree check -q ../small.b3 > /dev/null" \
        "cd $small && $old check -q ../small.b3 > /dev/null"
    # --update with nothing changed: each build keeps its own manifest and state.
    "$b3tree" hash -q --update -o "$work/prev-this.b3" "$small"
    "$old" hash -q --update -o "$work/prev-old.b3" "$small"
    ppair "hash --update, 100k files, nothing changed: this build vs $rev" \
        "$b3tree hash -q --update -o $work/prev-this.b3 $small" \
        "$old hash -q --update -o $work/prev-old.b3 $small"
fi

cold="${COLD:-auto}"
if [ "$cold" = auto ]; then
    if [ "$(id -u)" = 0 ]; then cold=1; else cold=0; fi
fi
: > "$results/cold-pairs.jsonl"
rm -f "$results"/cold-*.json "$results"/cold-*.rss
if [ "$cold" = 1 ]; then
    drop="sync; echo 3 > /proc/sys/vm/drop_caches"
    sh -c "$drop" || { echo "COLD=1 needs root (drop_caches)" >&2; exit 2; }
    cold_runs="${COLD_RUNS:-5}"
    for tree in small mixed big4 one1g; do
        dir="$work/$tree"
        cmds=(
            "$b3tree hash $dir > /dev/null"
            "$b3tree hash -j 32 $dir > /dev/null"
            "$b3tree hash -j 128 $dir > /dev/null"
            "find $dir -type f -print0 | xargs -0 -P$np -n 5000 b3sum > /dev/null"
        )
        names=("b3tree hash" "b3tree hash -j 32" "b3tree hash -j 128" "xargs -P$np -n 5000 b3sum")
        if [ "$tree" = small ] || [ "$tree" = mixed ]; then
            cmds+=("$floor $dir > /dev/null")
            names+=("floor: lean loop, no guarantees (bench/floor.rs)")
        fi
        args=()
        for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
        hyperfine --style basic --prepare "$drop" --runs "$cold_runs" \
            --export-json "$results/cold-$tree.json" "${args[@]}" >&2
        : > "$results/cold-$tree.rss"
        for i in "${!cmds[@]}"; do
            sh -c "$drop"
            kb="$( { /usr/bin/time -f '%M' sh -c "${cmds[$i]}" 2>&1 >/dev/null; } | tail -1)"
            printf '%s\t%s\n' "${names[$i]}" "$kb" >> "$results/cold-$tree.rss"
        done
    done
    cpairs="${COLD_PAIRS:-7}"
    cpair() {
        python3 "$here/pairs.py" -n "$cpairs" --warmup 0 --prepare "$drop" "$@" \
            >> "$results/cold-pairs.jsonl"
    }
    cpair "100k files vs -j 128" "$b3tree hash $small > /dev/null" "$b3tree hash -j 128 $small > /dev/null"
    cpair "100k files vs -j 32" "$b3tree hash $small > /dev/null" "$b3tree hash -j 32 $small > /dev/null"
    cpair "100k files vs xargs -P$np b3sum" "$b3tree hash $small > /dev/null" "$xargs_small"
    cpair "mixed tree vs the floor (bench/floor.rs)" "$b3tree hash $work/mixed > /dev/null" \
        "$floor $work/mixed > /dev/null"
    cpair "1 GiB vs b3sum" "$b3tree hash $work/one1g > /dev/null" "b3sum $work/one1g/* > /dev/null"
    cpair "4 x 1 GiB vs b3sum" "$b3tree hash $work/big4 > /dev/null" "b3sum $work/big4/* > /dev/null"
fi
# The network filesystem (sshfs to 127.0.0.1), as root: bench/sshfs.sh, with what the
# adaptive gate sees there. SSHFS=0 skips it.
if [ "$(id -u)" = 0 ] && [ "${SSHFS:-1}" = 1 ] && command -v sshfs >/dev/null; then
    "$here/sshfs.sh" "$work" "$runs"
fi
python3 "$here/report.py" "$results"
