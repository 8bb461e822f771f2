#!/usr/bin/env bash
# The network-filesystem benchmark: a tree of 20,000 small files (64 B..64 KiB) read through
# sshfs from an sshd on 127.0.0.1 (every open, stat and read is an SFTP round trip), with
#   - b3tree's adaptive default,
#   - fixed --jobs 2, 8, 32, 128 (is the default within reach of the best fixed count?),
#   - find | xargs -0 -P2 -n 500 b3sum (the parallel b3sum a user would script).
# Warm: the mount stays (the kernel keeps its attribute and dentry caches; sshfs still asks
# the server for every open and read). Cold: the tree is mounted afresh before every run
# (hyperfine --prepare). Median wall time of RUNS runs (hyperfine); then the CPU share of one
# run, which is what the adaptive gate decides by.
#
#   bench/sshfs.sh [WORKDIR] [RUNS]      (as root; default /tmp/b3tree-bench, 5 runs)
#   JOBS="8 32" bench/sshfs.sh           (the fixed counts to time; default 2 8 32 128)
#
# Needs: hyperfine, sshfs, openssh-server, openssh-client (apt-get install -y hyperfine
# sshfs openssh-server openssh-client), b3sum (cargo install b3sum --locked), python3.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-/tmp/b3tree-bench}"
runs="${2:-5}"
[ "$(id -u)" = 0 ] || { echo "run as root (sshd, mount)" >&2; exit 2; }
for tool in hyperfine sshfs /usr/sbin/sshd ssh-keygen b3sum python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (see the header of $0)" >&2; exit 2; }
done
(cd "$here/.." && cargo build --release --locked -q --bin b3tree)
b3tree="$here/../target/release/b3tree"
tree="$work/small20k"
[ -d "$tree" ] || python3 "$here/gen_tree.py" small "$tree" 20000

keys="$(mktemp -d)"
mnt="$work/sshfs-mnt"
mkdir -p "$mnt" /run/sshd
port=$((20000 + RANDOM % 20000))
cleanup() {
    umount -l "$mnt" 2>/dev/null || true
    [ -f "$keys/sshd.pid" ] && kill "$(cat "$keys/sshd.pid")" 2>/dev/null || true
    rm -rf "$keys"
}
trap cleanup EXIT
ssh-keygen -q -t ed25519 -N '' -f "$keys/host"
ssh-keygen -q -t ed25519 -N '' -f "$keys/user"
cp "$keys/user.pub" "$keys/authorized_keys"
cat > "$keys/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $keys/host
AuthorizedKeysFile $keys/authorized_keys
PermitRootLogin yes
PasswordAuthentication no
StrictModes no
UsePAM no
Subsystem sftp internal-sftp
PidFile $keys/sshd.pid
EOF
/usr/sbin/sshd -f "$keys/sshd_config"
opts="IdentityFile=$keys/user,StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,port=$port"
mount_cmd="sshfs -o $opts root@127.0.0.1:$tree $mnt"
remount="umount $mnt 2>/dev/null || true; $mount_cmd"
for _ in $(seq 50); do eval "$mount_cmd" 2>/dev/null && break; sleep 0.1; done
grep -q " $mnt fuse.sshfs " /proc/mounts || { echo "sshfs mount failed" >&2; exit 1; }

results="$work/results"
mkdir -p "$results"
cmds=(-n "b3tree hash (default)" "$b3tree hash -q -o /dev/null $mnt")
for j in ${JOBS:-2 8 32 128}; do
    cmds+=(-n "b3tree hash -j $j" "$b3tree hash -q -j $j -o /dev/null $mnt")
done
cmds+=(-n "xargs -P2 -n 500 b3sum" "find $mnt -type f -print0 | xargs -0 -P2 -n 500 b3sum > /dev/null")

echo "== warm (one mount, after a warm-up run)"
hyperfine --style basic --runs "$runs" --warmup 1 \
    --export-markdown "$results/sshfs-warm.md" "${cmds[@]}" >&2
cat "$results/sshfs-warm.md"
echo
echo "== cold (mounted afresh before every run)"
hyperfine --style basic --runs "$runs" --prepare "$remount" \
    --export-markdown "$results/sshfs-cold.md" "${cmds[@]}" >&2
cat "$results/sshfs-cold.md"
echo
# The gate (src/pipeline/gate.rs) doubles the active workers every 20 ms while the CPUs are
# less than 75 % busy: the CPU share of a run is what it sees.
echo "== what the adaptive gate sees: the CPU share of one cold run (of $(nproc) CPUs)"
eval "$remount"
/usr/bin/time -f "%e s wall, %P of one CPU" "$b3tree" hash -q -o /dev/null "$mnt"
