#!/bin/sh
# CI's check of the release packaging, for the host target: what the release workflow
# publishes, used as a user would use it.
#   - pkg/package.sh build + sums into a temporary directory;
#   - the checksums verify with sha256sum -c and b3sum -c;
#   - the archive unpacks, its binary runs, its pages and completions are there, and its
#     name and layout are what [package.metadata.binstall] in Cargo.toml promises;
#   - the .deb installs with dpkg -i (root), then `b3tree --version` and `man b3tree` work,
#     and it is removed again;
#   - `cargo publish --dry-run` packages and builds the crate as crates.io would.
# Needs: sha256sum, b3sum, tar, cargo-deb (installed here if missing), dpkg and man (root).
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo-deb >/dev/null 2>&1 || cargo install cargo-deb --locked
host="$(rustc -vV | sed -n 's/^host: //p')"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
pkg/package.sh build "$host" "$out/dist"
pkg/package.sh sums "$out/dist" "target/$host/release/b3tree"

cd "$out/dist"
sha256sum -c SHA256SUMS
b3sum -c B3SUMS
name="b3tree-$version-$host"
# The archive's name and the binary's place in it, as cargo binstall computes them.
url="$(sed -n 's/^pkg-url = "\(.*\)"$/\1/p' "$root/Cargo.toml")"
bindir="$(sed -n 's/^bin-dir = "\(.*\)"$/\1/p' "$root/Cargo.toml")"
fill() {
    echo "$1" | sed -e "s/{ name }/b3tree/g" -e "s/{ version }/$version/g" \
        -e "s/{ target }/$host/g" -e "s/{ bin }/b3tree/g" -e "s/{ binary-ext }//g"
}
[ "$(basename "$(fill "$url")")" = "$name.tar.gz" ] || {
    echo "binstall's pkg-url names $(basename "$(fill "$url")"), the archive is $name.tar.gz" >&2
    exit 1
}
mkdir unpacked
tar -xzf "$name.tar.gz" -C unpacked
"unpacked/$(fill "$bindir")" --version
for f in README.md LICENSE-MIT LICENSE-APACHE man/man1/b3tree.1 man/man1/b3tree-check.1 \
    completions/b3tree.bash completions/_b3tree completions/b3tree.fish; do
    [ -s "unpacked/$name/$f" ] || { echo "the archive lacks $f" >&2; exit 1; }
done

if [ "$(id -u)" = 0 ] && command -v dpkg >/dev/null 2>&1; then
    deb="$(ls b3tree_*.deb)"
    dpkg -i "$deb"
    /usr/bin/b3tree --version
    man -w b3tree
    man -P cat b3tree-hash | grep -q "EXIT STATUS"
    [ -s /usr/share/bash-completion/completions/b3tree ]
    dpkg -r b3tree
else
    echo "not root: the .deb was built, not installed" >&2
fi

cd "$root"
cargo publish --dry-run --locked --allow-dirty
echo "packaging: ok"
