#!/bin/sh
# Installs a b3tree release for this machine's architecture: downloads the static (musl)
# archive and the release's SHA256SUMS, verifies the archive against it, unpacks it and puts
# b3tree on PATH. The GitHub Action (action.yml) runs it; anyone may.
#
#   B3TREE_VERSION=0.1.0 pkg/install.sh      (or latest, the default)
#
# Environment:
#   B3TREE_VERSION      a release version (0.1.0, v0.1.0) or `latest`
#   B3TREE_BASE_URL     where releases are: BASE/download/vVERSION/FILE and
#                       BASE/latest/download/FILE (GitHub's layout; the Action passes
#                       https://github.com/OWNER/REPO/releases)
#   B3TREE_INSTALL_DIR  where the binary goes (default: $RUNNER_TOOL_CACHE/b3tree/VERSION on
#                       a runner, else ~/.local/bin)
#   GITHUB_PATH         if set (a GitHub runner), the directory is appended to it
#   GITHUB_OUTPUT       if set, `version=` and `path=` are appended to it (the Action's
#                       outputs)
# A pinned version already in the runner's tool cache ($RUNNER_TOOL_CACHE/b3tree/VERSION,
# where this script put it on an earlier run of the job's runner) is used without a
# download.
# Nothing is installed unless the archive's SHA-256 matches the release's SHA256SUMS.
# POSIX sh; works with GNU coreutils and with busybox alone (Alpine: sh, wget, sha256sum,
# tar, cp, mv; no curl, no install).
set -eu
base="${B3TREE_BASE_URL:?set B3TREE_BASE_URL (e.g. https://github.com/OWNER/REPO/releases)}"
version="${B3TREE_VERSION:-latest}"
version="${version#v}"
case "$(uname -m)" in
x86_64 | amd64) target=x86_64-unknown-linux-musl ;;
aarch64 | arm64) target=aarch64-unknown-linux-musl ;;
*) echo "b3tree install: no release for $(uname -s) $(uname -m) (Linux x86_64 and aarch64 only)" >&2; exit 1 ;;
esac
[ "$(uname -s)" = Linux ] || { echo "b3tree install: Linux only" >&2; exit 1; }

fetch() { # URL FILE
    if command -v curl >/dev/null 2>&1; then
        curl --fail --silent --show-error --location --retry 3 -o "$2" "$1"
    elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$2" "$1"
    else
        echo "b3tree install: needs curl or wget" >&2
        return 1
    fi
}

# Where a run leaves the binary for the next ones: PATH and the Action's outputs.
announce() { # VERSION DIR
    if [ -n "${GITHUB_PATH:-}" ]; then
        echo "$2" >> "$GITHUB_PATH"
    fi
    if [ -n "${GITHUB_OUTPUT:-}" ]; then
        printf 'version=%s\npath=%s\n' "$1" "$2" >> "$GITHUB_OUTPUT"
    fi
}

cached="${RUNNER_TOOL_CACHE:-}/b3tree/$version"
if [ "$version" != latest ] && [ -z "${B3TREE_INSTALL_DIR:-}" ] && [ -n "${RUNNER_TOOL_CACHE:-}" ] \
    && [ -x "$cached/b3tree" ] && "$cached/b3tree" --version >/dev/null 2>&1; then
    announce "$version" "$cached"
    echo "b3tree $version found in the tool cache: $cached"
    exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ "$version" = latest ]; then
    dir="$base/latest/download"
else
    dir="$base/download/v$version"
fi
fetch "$dir/SHA256SUMS" "$work/SHA256SUMS" || {
    echo "b3tree install: cannot download $dir/SHA256SUMS" >&2
    exit 1
}
# The archive for this target, as SHA256SUMS names it (which also gives `latest`'s version).
# A version is letters, digits and . + ~ _ - only: a name from the server never climbs out
# of the download directory.
line="$(grep -E "^[0-9a-f]{64}  b3tree-[A-Za-z0-9.+~_-]+-$target\.tar\.gz\$" "$work/SHA256SUMS" \
    | head -n 1 || true)"
[ -n "$line" ] || { echo "b3tree install: the release has no archive for $target" >&2; exit 1; }
archive="${line#*  }"
found="${archive#b3tree-}"
found="${found%-"$target".tar.gz}"
if [ "$version" != latest ] && [ "$found" != "$version" ]; then
    echo "b3tree install: SHA256SUMS of v$version lists $archive" >&2
    exit 1
fi
fetch "$dir/$archive" "$work/$archive" || {
    echo "b3tree install: cannot download $dir/$archive" >&2
    exit 1
}
# Portable to busybox (Alpine): its sha256sum has no --quiet; the OK line goes nowhere.
(cd "$work" && echo "$line" | sha256sum -c - >/dev/null) || {
    echo "b3tree install: $archive does not match SHA256SUMS: not installed" >&2
    exit 1
}
tar -xzf "$work/$archive" -C "$work"
if [ -n "${B3TREE_INSTALL_DIR:-}" ]; then
    dest="$B3TREE_INSTALL_DIR"
elif [ -n "${RUNNER_TOOL_CACHE:-}" ]; then
    dest="$RUNNER_TOOL_CACHE/b3tree/$found"
else
    dest="$HOME/.local/bin"
fi
mkdir -p "$dest"
# cp, chmod, mv rather than install(1), which busybox builds may lack; the rename replaces a
# binary that is running ("text file busy" for a write in place). The temporary name is
# this run's own (mktemp), so installers running at once never swap in a half-written copy.
new="$(mktemp "$dest/.b3tree.XXXXXX")"
trap 'rm -rf "$work"; rm -f "$new"' EXIT
cp "$work/b3tree-$found-$target/b3tree" "$new"
chmod 755 "$new"
mv -f "$new" "$dest/b3tree"
"$dest/b3tree" --version
announce "$found" "$dest"
echo "b3tree $found installed in $dest"
