#!/bin/sh
# Packs a b3tree release for one target, as the release workflow (.github/workflows/
# release.yml) does on each runner, and as CI does for the host (pkg/check.sh):
#
#   pkg/package.sh build [TARGET] [OUTDIR]   release build, archive and .deb for TARGET
#                                            (default: the host's) into OUTDIR (target/dist)
#   pkg/package.sh sums OUTDIR [B3TREE]      SHA256SUMS (sha256sum) and B3SUMS (written by
#                                            b3tree itself) of every b3tree-* file in OUTDIR
#
# The archive b3tree-VERSION-TARGET.tar.gz holds b3tree-VERSION-TARGET/ with the binary,
# README.md, both licences, man/man1/*.1 (every page) and completions/ (bash, zsh, fish);
# its names match [package.metadata.binstall] in Cargo.toml. The .deb (cargo-deb, Linux
# targets only; DEB=0 skips it) installs the binary, the pages and the completions.
# Needs: the Rust toolchain with TARGET installed, tar, gzip, sha256sum; cargo-deb for the
# .deb (cargo install cargo-deb --locked).
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"

build() {
    host="$(rustc -vV | sed -n 's/^host: //p')"
    target="${1:-$host}"
    out="${2:-target/dist}"
    mkdir -p "$out"
    out="$(cd "$out" && pwd)"
    cargo build --release --locked --target "$target" --bin b3tree
    bin="target/$target/release/b3tree"
    name="b3tree-$version-$target"
    # Generated once, into the archive and (from target/pkg-assets) into the .deb.
    assets="target/pkg-assets"
    rm -rf "$assets"
    mkdir -p "$assets/completions"
    "$bin" man --dir "$assets/man/man1"
    "$bin" completions bash > "$assets/completions/b3tree.bash"
    "$bin" completions zsh > "$assets/completions/_b3tree"
    "$bin" completions fish > "$assets/completions/b3tree.fish"
    stage="$(mktemp -d)"
    trap 'rm -rf "$stage"' EXIT
    mkdir -p "$stage/$name"
    cp "$bin" README.md LICENSE-MIT LICENSE-APACHE "$stage/$name/"
    cp -R "$assets/man" "$assets/completions" "$stage/$name/"
    # Reproducible: fixed owner, order and times (the commit's time when there is one).
    epoch="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
    tar -C "$stage" --owner=0 --group=0 --numeric-owner --sort=name --mtime="@$epoch" \
        -cf - "$name" | gzip -n -9 > "$out/$name.tar.gz"
    case "$target" in
    *-linux-*)
        if [ "${DEB:-1}" = 1 ]; then
            cargo deb --no-build --target "$target" --output "$out/"
        fi
        ;;
    esac
    echo "$out/$name.tar.gz"
}

sums() {
    out="$1"
    b3tree="${2:-b3tree}"
    case "$b3tree" in
    /*) ;;
    */*) b3tree="$root/$b3tree" ;;
    esac
    cd "$out"
    # The archives and packages, and (in a release) the installer and the GitLab template.
    files="$(ls b3tree[-_.]* install.sh 2>/dev/null | grep -v -e '\.sha256$' | sort)"
    # shellcheck disable=SC2086
    sha256sum $files > SHA256SUMS
    # shellcheck disable=SC2086
    "$b3tree" hash -q -o B3SUMS $files
}

case "${1:-}" in
build) shift; build "$@" ;;
sums) shift; sums "$@" ;;
*) echo "usage: $0 build [TARGET] [OUTDIR] | sums OUTDIR [B3TREE]" >&2; exit 2 ;;
esac
