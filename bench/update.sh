#!/usr/bin/env bash
# The `hash --update` benchmark: re-hashing a tree of 1,000,000 small files (1..512 B, 1,000
# directories) in which 10 files changed since the last run, against
#   - a full `b3tree hash -o` of the same tree,
#   - a single-threaded stat walk (`find -printf '%s %T@ %C@ %i'`): what looking at every
#     file costs at least, with no content read,
#   - `git status` on the same tree (index fresh, repository outside the tree),
#   - `rhash --update` (adds files it has not seen; a modified file keeps its old hash).
# Each timed command first changes 10 files (the same ones each time: `gen_tree.py touch`),
# in hyperfine's --prepare, so every run has 10 changed files. Median wall time (hyperfine,
# warm page cache) and peak RSS (/usr/bin/time).
#
#   bench/update.sh [WORKDIR] [RUNS]      (default /tmp/b3tree-bench, 5 runs)
#
# Needs: hyperfine, time, git, rhash (apt-get install -y hyperfine time git rhash), python3.
# Generates (once, fixed seed) WORKDIR/tiny1m/ (~1 GB of inodes, ~260 MB of data) and a git
# repository of it in WORKDIR/tiny1m.git (git add of a million files takes minutes).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-/tmp/b3tree-bench}"
runs="${2:-5}"
mkdir -p "$work"
for tool in hyperfine git rhash python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (see the header of $0)" >&2; exit 2; }
done
(cd "$here/.." && cargo build --release --locked -q --bin b3tree)
b3tree="$here/../target/release/b3tree"
tree="$work/tiny1m"
gitdir="$work/tiny1m.git"
[ -d "$tree" ] || python3 "$here/gen_tree.py" tiny "$tree"
touch10="python3 $here/gen_tree.py touch $tree 10"
git_() { git --git-dir="$gitdir" --work-tree="$tree" "$@"; }
if [ ! -d "$gitdir" ]; then
    git_ init -q
    git_ add -A
    git_ -c user.name=bench -c user.email=bench@localhost commit -qm tree
fi
# The states each tool updates, made once (the first --update is a full run).
$touch10
"$b3tree" hash -q --update -o "$work/tiny1m.b3" "$tree" 2>/dev/null
[ -f "$work/tiny1m.rhash" ] || rhash -r --sha256 -o "$work/tiny1m.rhash" "$tree"
git_ status --porcelain >/dev/null

results="$work/results"
mkdir -p "$results"
hyperfine --runs "$runs" --warmup 1 --prepare "$touch10" \
    --export-markdown "$results/update.md" \
    -n "b3tree hash --update (10 changed)" "$b3tree hash -q --update -o $work/tiny1m.b3 $tree" \
    -n "b3tree hash -o (full run)" "$b3tree hash -q -o $work/tiny1m-full.b3 $tree" \
    -n "find -printf stat walk (1 thread)" "find $tree -type f -printf '%s %T@ %C@ %i\n' > /dev/null" \
    -n "git status (index fresh)" "git --git-dir=$gitdir --work-tree=$tree status --porcelain > /dev/null" \
    -n "rhash --update (sha256)" "rhash -r --sha256 --update=$work/tiny1m.rhash $tree"
cat "$results/update.md"

echo
echo "peak RSS (KiB), one run each after 10 changes:"
for cmd in "$b3tree hash -q --update -o $work/tiny1m.b3 $tree" \
    "$b3tree hash -q -o $work/tiny1m-full.b3 $tree"; do
    $touch10
    /usr/bin/time -f "%M KiB  %e s  $cmd" sh -c "$cmd" 2>&1 | tail -1
done
