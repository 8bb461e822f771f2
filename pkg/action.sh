#!/bin/sh
# The step of the GitHub Action (action.yml): decides what to install from where, then runs
# pkg/install.sh. Kept as a script so that it can be run, and tested, outside a runner.
#
# Environment (action.yml passes them from its inputs and the github context):
#   INPUT_VERSION       the `version` input; empty: the ref the workflow pinned the Action
#                       to when that ref is a version tag (uses: OWNER/b3tree@v0.2.0),
#                       else latest
#   INPUT_BASE_URL      the `base-url` input: the GitHub server (GitHub Enterprise: its URL)
#   ACTION_REF          github.action_ref
#   ACTION_REPOSITORY   github.action_repository: empty for `uses: ./` or a vendored copy,
#   REPOSITORY          github.repository, which is then the Action's own repository
set -eu
version="${INPUT_VERSION:-}"
if [ -z "$version" ]; then
    case "${ACTION_REF:-}" in
    v[0-9]*.[0-9]*.[0-9]*) version="$ACTION_REF" ;;
    *) version=latest ;;
    esac
fi
repository="${ACTION_REPOSITORY:-}"
[ -n "$repository" ] || repository="${REPOSITORY:?neither github.action_repository nor github.repository is set}"
base="${INPUT_BASE_URL:?the base-url input is empty}"
B3TREE_VERSION="$version" B3TREE_BASE_URL="${base%/}/$repository/releases" \
    exec sh "$(dirname "$0")/install.sh"
