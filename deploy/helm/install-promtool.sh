#!/usr/bin/env bash
# Builds promtool (Prometheus' rule checker and rule unit tester) from the Go module proxy into
# <repo>/.cache/promtool and prints the binary's path (`go install` of a pinned version, see
# go-tool.sh); a second run (binary present) is instant.
# Usage: bash deploy/helm/install-promtool.sh          (env PROMTOOL_VERSION overrides the pinned version)
#        bash deploy/helm/install-promtool.sh --check  build nothing, as install-helm.sh --check
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/go-tool.sh"

# Prometheus v3.16.0 (its Go module is versioned v0.<major><minor>.<patch>); its go.mod needs Go 1.26.7.
go_tool promtool "${PROMTOOL_VERSION:-v0.316.0}" "$@"
# `promtool --version` shows the Prometheus release the module version stands for.
release="$(sed -E 's/^v0\.([0-9]+)([0-9]{2})\.([0-9]+)$/\1.\2.\3/; s/\.0([0-9])\./.\1./' <<<"$version")"
# remove_all_sd: without the cloud service discoveries (only `promtool check config` needs them),
# which are most of Prometheus' dependencies: about 3 minutes to build instead of over 20.
"${goenv[@]}" "$go" install -trimpath -tags remove_all_sd -ldflags "-s -w -X github.com/prometheus/common/version.Version=$release" \
  "github.com/prometheus/prometheus/cmd/promtool@$version" >&2
go_tool_built
