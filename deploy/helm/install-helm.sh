#!/usr/bin/env bash
# Builds the Helm CLI from the Go module proxy into <repo>/.cache/helm and prints the binary's path
# (`go install` of a pinned version, see go-tool.sh); a second run (binary present) is instant.
# Usage: bash deploy/helm/install-helm.sh          (env HELM_VERSION overrides the pinned version)
#        bash deploy/helm/install-helm.sh --check  build nothing: print the binary's path and exit 0 if it
#                                                  is built, else say what building it needs and exit 1
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/go-tool.sh"

go_tool helm "${HELM_VERSION:-v3.22.0}" "$@"
"${goenv[@]}" "$go" mod download "helm.sh/helm/v3@$version" >&2
# As Helm's Makefile does: the Kubernetes version Helm assumes (`helm template`, `lint`) is the one of
# the client-go it was built with (v0.X.Y -> 1.X); unset, it would be 1.20.
client_go="$(awk '$1 == "k8s.io/client-go" { print $2 }' "$cache/gomodcache/helm.sh/helm/v3@$version/go.mod")"
k8s_minor="$(cut -d. -f2 <<<"$client_go")"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$version"
for pkg in pkg/chartutil pkg/lint/rules; do
  ldflags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$k8s_minor"
done
"${goenv[@]}" "$go" install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$version" >&2
go_tool_built
