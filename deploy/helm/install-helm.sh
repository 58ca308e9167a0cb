#!/usr/bin/env bash
# Builds the Helm CLI from the Go module proxy into <repo>/.cache/helm and prints the binary's path.
# No prebuilt download (none is reachable from CI); `go install` of a pinned version instead. GOPATH,
# GOCACHE and GOMODCACHE live under .cache/helm too, so a second run (binary present) is instant and
# a rebuild after deleting the binary reuses the module and build caches.
# Usage: bash deploy/helm/install-helm.sh          (env HELM_VERSION overrides the pinned version)
#        bash deploy/helm/install-helm.sh --check  build nothing: print the binary's path and exit 0 if it
#                                                  is built, else say what building it needs and exit 1
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache="$root/.cache/helm"
bin="$cache/$HELM_VERSION/helm"

find_go() {
  command -v go || { [[ -x /usr/local/go/bin/go ]] && echo /usr/local/go/bin/go; }
}

if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

if [[ "${1:-}" == --check ]]; then
  echo "helm $HELM_VERSION is not built in $cache; building it needs Go: $(find_go || echo 'none on PATH nor at /usr/local/go/bin/go')"
  exit 1
fi

if ! go="$(find_go)"; then
  echo "install-helm.sh: Go is needed to build Helm (no go on PATH nor /usr/local/go/bin/go; see https://go.dev/doc/install)" >&2
  exit 1
fi

mkdir -p "$cache/$HELM_VERSION"
t0=$SECONDS
# GOTOOLCHAIN=local: build with the installed Go, never fetch another toolchain. -modcacherw: the
# module cache stays deletable.
goenv=(env GOPATH="$cache/gopath" GOCACHE="$cache/gocache" GOMODCACHE="$cache/gomodcache" GOBIN="$cache/$HELM_VERSION"
  GOFLAGS=-modcacherw GOTOOLCHAIN=local CGO_ENABLED=0)
"${goenv[@]}" "$go" mod download "helm.sh/helm/v3@$HELM_VERSION" >&2
# As Helm's Makefile does: the Kubernetes version Helm assumes (`helm template`, `lint`) is the one of
# the client-go it was built with (v0.X.Y -> 1.X); unset, it would be 1.20.
client_go="$(awk '$1 == "k8s.io/client-go" { print $2 }' "$cache/gomodcache/helm.sh/helm/v3@$HELM_VERSION/go.mod")"
k8s_minor="$(cut -d. -f2 <<<"$client_go")"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for pkg in pkg/chartutil pkg/lint/rules; do
  ldflags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$k8s_minor"
done
"${goenv[@]}" "$go" install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
echo "install-helm.sh: built helm $HELM_VERSION in $((SECONDS - t0))s" >&2
echo "$bin"
