#!/usr/bin/env bash
# Builds promtool (Prometheus' rule checker and rule unit tester) from the Go module proxy into
# <repo>/.cache/promtool and prints the binary's path, as install-helm.sh does for Helm: no prebuilt
# download, `go install` of a pinned version with the installed Go (GOTOOLCHAIN=local), module and
# build caches under .cache/promtool so a second run is instant.
# Usage: bash deploy/helm/install-promtool.sh    (env PROMTOOL_VERSION overrides the pinned version)
set -euo pipefail

# Prometheus v3.16.0 (its Go module is versioned v0.<major><minor>.<patch>); its go.mod needs Go 1.26.7.
PROMTOOL_VERSION="${PROMTOOL_VERSION:-v0.316.0}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache="$root/.cache/promtool"
bin="$cache/$PROMTOOL_VERSION/promtool"

if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

go="$(command -v go || true)"
[[ -n "$go" ]] || go=/usr/local/go/bin/go
if [[ ! -x "$go" ]]; then
  echo "install-promtool.sh: Go is needed to build promtool (no go on PATH nor /usr/local/go/bin/go)" >&2
  exit 1
fi

mkdir -p "$cache/$PROMTOOL_VERSION"
t0=$SECONDS
goenv=(env GOPATH="$cache/gopath" GOCACHE="$cache/gocache" GOMODCACHE="$cache/gomodcache" GOBIN="$cache/$PROMTOOL_VERSION"
  GOFLAGS=-modcacherw GOTOOLCHAIN=local CGO_ENABLED=0)
# `promtool --version` shows the Prometheus release the module version stands for.
release="$(sed -E 's/^v0\.([0-9]+)([0-9]{2})\.([0-9]+)$/\1.\2.\3/; s/\.0([0-9])\./.\1./' <<<"$PROMTOOL_VERSION")"
ldflags="-s -w -X github.com/prometheus/common/version.Version=$release"
# remove_all_sd: without the cloud service discoveries (only `promtool check config` needs them),
# which are most of Prometheus' dependencies: about 3 minutes to build instead of over 20.
"${goenv[@]}" "$go" install -trimpath -tags remove_all_sd -ldflags "$ldflags" \
  "github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_VERSION" >&2
echo "install-promtool.sh: built promtool $PROMTOOL_VERSION in $((SECONDS - t0))s" >&2
echo "$bin"
