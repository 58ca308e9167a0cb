# Sourced by install-helm.sh and install-promtool.sh, which build a pinned Go command from the Go
# module proxy (no prebuilt download: none is reachable from CI) into <repo>/.cache/<tool>.
#
# `go_tool <tool> <version> [--check]` prints the binary's path and exits 0 when it is built already.
# With --check it builds nothing: otherwise it says what building needs and exits 1. Otherwise it
# sets `go`, `cache` (.cache/<tool>), `bin` and `goenv`: GOPATH, GOCACHE and GOMODCACHE under the
# cache, so a rebuild after deleting the binary reuses the module and build caches; GOBIN the
# version's folder; GOTOOLCHAIN=local (build with the installed Go, never fetch another toolchain);
# -modcacherw (the module cache stays deletable). The caller runs `"${goenv[@]}" "$go" install ...`,
# then `go_tool_built`, which prints the binary's path.

find_go() {
  command -v go || { [[ -x /usr/local/go/bin/go ]] && echo /usr/local/go/bin/go; }
}

go_tool() {
  tool="$1" version="$2"
  cache="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.cache/$tool"
  bin="$cache/$version/$tool"
  if [[ -x "$bin" ]]; then
    echo "$bin"
    exit 0
  fi
  if [[ "${3:-}" == --check ]]; then
    echo "$tool $version is not built in $cache; building it needs Go: $(find_go || echo 'none on PATH nor at /usr/local/go/bin/go')"
    exit 1
  fi
  if ! go="$(find_go)"; then
    echo "install-$tool.sh: Go is needed to build $tool (no go on PATH nor /usr/local/go/bin/go; see https://go.dev/doc/install)" >&2
    exit 1
  fi
  mkdir -p "$cache/$version"
  t0=$SECONDS
  goenv=(env GOPATH="$cache/gopath" GOCACHE="$cache/gocache" GOMODCACHE="$cache/gomodcache" GOBIN="$cache/$version"
    GOFLAGS=-modcacherw GOTOOLCHAIN=local CGO_ENABLED=0)
}

go_tool_built() {
  echo "install-$tool.sh: built $tool $version in $((SECONDS - t0))s" >&2
  echo "$bin"
}
