#!/usr/bin/env bash
# The scale benchmark: does time grow linearly with the file count, and memory not at all?
# Two trees of empty files, 1,000 per directory — 1,000,000 (1,000 directories) and
# 10,000,000 (10,000 directories) — each on its own loop-mounted ext4 image made with enough
# inodes, so the machine's own filesystem (its size, its caches, other users) is out of it.
# For each tree, with warm inode caches (a `find -printf %s` first, which stats each file),
# the median of RUNS samples (GNU time: wall, user, system, peak RSS; runs interleaved, and a
# smaller tree's sample the mean of as many runs in a row as make up the largest tree's
# count — see below) of
#   hash -q -C TREE .                 (stdout to /dev/null)
#   check -q -C TREE MANIFEST         (the tree's manifest, made once, on WORKDIR)
#   hash --update -o MANIFEST -C TREE (nothing changed: every record reused)
#   check --audit -q -C TREE MANIFEST
#   find TREE -type f                 (for scale: the walk alone, one thread)
# then the 10M / 1M ratios. Goals (docs/performance.md, "Ten million files"): time ≤ 10.5×,
# peak RSS ≤ 1.25× and ≤ 32 MiB.
#
#   bench/scale.sh [WORKDIR] [RUNS] [COUNTS]   (root; default /tmp/b3tree-scale, 3 runs,
#                                               "1000000 10000000"; 0 runs: only make the trees)
#
# Needs: root (mount), e2fsprogs, GNU time, python3. Generates once (kept in WORKDIR: sparse
# images of 5 and 41 GB that take ~4 GB of disk; the 10M tree takes
# ~6 minutes to make) and leaves the images mounted at WORKDIR/tree-COUNT; `umount WORKDIR/tree-*` when done.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-/tmp/b3tree-scale}"
runs="${2:-3}"
counts="$(printf '%s\n' ${3:-1000000 10000000} | sort -n | tr '\n' ' ')"
counts="${counts% }"
for tool in mkfs.ext4 python3 /usr/bin/time mountpoint; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (see the header of $0)" >&2; exit 2; }
done
[ "$(id -u)" -eq 0 ] || { echo "$0: needs root (loop mounts)" >&2; exit 2; }
(cd "$here/.." && cargo build --release --locked -q --bin b3tree)
b3tree="$here/../target/release/b3tree"
mkdir -p "$work"

# An ext4 image per tree: one inode per file and directory, plus slack; the inode tables are
# written by mkfs, not lazily by the kernel in the background while we measure.
make_tree() {
    local count="$1" tree="$work/tree-$1" image="$work/tree-$1.img"
    if ! mountpoint -q "$tree"; then
        if [ ! -f "$image" ]; then
            # ext4 holds at most 32,768 inodes per 128 MiB group: 4 KiB of image per file
            # (sparse: only the inode tables and directories take disk, ~300 B per file).
            truncate -s $((count / 1000 * 4 + 1024))M "$image"
            mkfs.ext4 -q -F -N $((count + count / 1000 + 10000)) \
                -E lazy_itable_init=0,lazy_journal_init=0 "$image"
        fi
        mkdir -p "$tree"
        mount -o loop,noatime "$image" "$tree"
    fi
    if [ ! -f "$tree/.complete" ]; then
        echo "generating $count empty files in $tree …" >&2
        rm -rf "$tree/files"
        python3 "$here/gen_tree.py" empty "$tree/files" "$count"
        : > "$tree/.complete"
    fi
}

# One sample of a command, appended to FILE as "wall user sys peak_kib": the command run
# REPEAT times in a row (times summed, divided by REPEAT; the peak is the largest run's).
sample() {
    local file="$1" repeat="$2"
    shift 2
    local one="$work/one.$$"
    : > "$one"
    for _ in $(seq "$repeat"); do
        /usr/bin/time -a -o "$one" -f "%e %U %S %M" "$@" > /dev/null
    done
    python3 - "$one" "$repeat" >> "$file" <<'EOF'
import sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
n = int(sys.argv[2])
print(*(sum(c) / n for c in list(zip(*rows))[:3]), max(r[3] for r in rows))
EOF
    rm -f "$one"
}

# The column medians of a samples file.
median() {
    python3 - "$1" <<'EOF'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
print(" ".join(f"{statistics.median(c):.6g}" for c in zip(*rows)))
EOF
}

if [ "$runs" -eq 0 ]; then # generate only
    for count in $counts; do make_tree "$count"; done
    exit 0
fi
first="${counts%% *}"
last="${counts##* }"
for count in $counts; do
    make_tree "$count"
    files="$work/tree-$count/files"
    # Warm the directory and inode caches: -printf %s stats every file (a plain find -type f
    # reads only the listings, and the first stat of each inode would then be timed).
    find "$files" -type f -printf '%s\n' > /dev/null
    [ -f "$work/m-$count.b3" ] || "$b3tree" hash -q -o "$work/m-$count.b3" -C "$files" .
    [ -f "$work/u-$count.b3" ] || "$b3tree" hash -q --update -o "$work/u-$count.b3" -C "$files" .
    for what in hash check update audit find; do : > "$work/samples.$count.$what"; done
done
# The runs are interleaved (each command on each tree in turn, RUNS times over), and a
# smaller tree's sample runs its command (largest count / its count) times in a row, so that
# each sample spans about the time of the largest tree's. On a shared machine the speed of a
# core drifts from second to second (a fixed loop here took 160-360 ms per round over 40 s):
# a 2-3 s run catches one phase of that drift, a 30 s run its mean, and their ratio would
# measure the machine, not the tool.
declare -A result
for _ in $(seq "$runs"); do
    for what in hash check update audit find; do
        for count in $counts; do
            files="$work/tree-$count/files"
            manifest="$work/m-$count.b3"
            repeat=$((last / count))
            out="$work/samples.$count.$what"
            case "$what" in
            hash) sample "$out" "$repeat" "$b3tree" hash -q -C "$files" . ;;
            check) sample "$out" "$repeat" "$b3tree" check -q -C "$files" "$manifest" ;;
            update) sample "$out" "$repeat" "$b3tree" hash -q --update -o "$work/u-$count.b3" -C "$files" . ;;
            audit) sample "$out" "$repeat" "$b3tree" check --audit -q -C "$files" "$manifest" ;;
            find) sample "$out" "$repeat" find "$files" -type f ;;
            esac
        done
    done
done
for count in $counts; do
    for what in hash check update audit find; do
        result[$count,$what]=$(median "$work/samples.$count.$what")
        rm -f "$work/samples.$count.$what"
    done
done
printf '%-8s %12s %28s %28s %8s %8s\n' command files "wall s (user / sys)" "peak RSS MiB" "time ×" "RSS ×"
for what in hash check update audit find; do
    read -r w0 u0 s0 m0 <<< "${result[$first,$what]}"
    for count in $counts; do
        read -r w u s m <<< "${result[$count,$what]}"
        ratio_t=$(python3 -c "print(f'{$w / $w0:.2f}' if $w0 else '-')")
        ratio_m=$(python3 -c "print(f'{$m / $m0:.2f}' if $m0 else '-')")
        printf '%-8s %12s %28s %28s %8s %8s\n' "$what" "$count" "$w ($u / $s)" \
            "$(python3 -c "print(f'{$m / 1024:.1f}')")" "$ratio_t" "$ratio_m"
    done
done
