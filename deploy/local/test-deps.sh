#!/usr/bin/env bash
# The programs sluice's tests run besides Node, Kafka and Redis: installs whichever are missing.
# (PG_INITDB overrides where PostgreSQL's initdb is looked for.)
#
#   test-deps.sh           install what is missing (Debian packages with apt-get, as root or with sudo;
#                          Helm and promtool built by deploy/helm/install-*.sh); silent when everything is there
#   test-deps.sh --check   install nothing: list each requirement, and for the missing ones how they would
#                          be installed; exit 1 if any is missing
#
# The tests' global setup (test/helpers/global-setup.ts) runs it, so `npm test` provisions itself;
# Kafka and Redis come from `deploy/local/infra.sh up` there. Java 17 and Maven (Kafka's jars and
# tools) and Go (to build Helm) are prerequisites this script does not install.
set -euo pipefail

HERE="$(cd "${BASH_SOURCE[0]%/*}" && pwd)"
INSTALL_HELM="$HERE/../helm/install-helm.sh"
INSTALL_PROMTOOL="$HERE/../helm/install-promtool.sh"

# One requirement a line: the program (a name looked up on PATH, or an absolute path, which may be a
# glob such as /usr/lib/postgresql/*/bin/initdb), the Debian package providing it, and what needs it.
REQUIREMENTS=(
  "redis-server|redis-server|Redis servers of the tests' own (Redis ACL/TLS, fault tests)"
  "kcat|kcat|the third-party Kafka client the tests check against (gaps, compression, fault tests)"
  "openssl|openssl|test certificates (gRPC and Redis TLS)"
  "${PG_INITDB:-/usr/lib/postgresql/*/bin/initdb}|postgresql|the Postgres sink's tests (deploy/local/postgres.sh runs the server)"
)
# The web UI test drives Debian's chromium, unless CHROMIUM_PATH names another browser.
[[ -n "${CHROMIUM_PATH:-}" ]] || REQUIREMENTS+=("chromium|chromium|the web UI test (headless browser)")

log() { echo "test-deps.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

present() {
  if [[ "$1" == /* ]]; then compgen -G "$1" >/dev/null; else command -v "$1" >/dev/null; fi
}

as_root() { if ((EUID == 0)); then "$@"; else sudo "$@"; fi; }

MISSING_PACKAGES=() MISSING_LINES=()
find_missing() {
  local entry program package why
  MISSING_PACKAGES=() MISSING_LINES=()
  for entry in "${REQUIREMENTS[@]}"; do
    IFS='|' read -r program package why <<<"$entry"
    present "$program" && continue
    MISSING_PACKAGES+=("$package")
    MISSING_LINES+=("$program (Debian package $package): $why")
  done
}

install_packages() {
  local line how="as root"
  find_missing
  ((${#MISSING_PACKAGES[@]} > 0)) || return 0
  for line in "${MISSING_LINES[@]}"; do log "missing $line"; done
  command -v apt-get >/dev/null || die "no apt-get on this machine: install ${MISSING_PACKAGES[*]} yourself"
  if ((EUID != 0)); then
    command -v sudo >/dev/null || die "not root and no sudo: run 'apt-get install ${MISSING_PACKAGES[*]}' as root"
    how="with sudo"
  fi
  log "running 'apt-get update' and 'apt-get install ${MISSING_PACKAGES[*]}' $how"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${MISSING_PACKAGES[@]}" >&2
  find_missing
  ((${#MISSING_PACKAGES[@]} == 0)) || die "still missing after apt-get install: ${MISSING_LINES[*]}"
  log "installed what was missing"
}

check() {
  local entry program package why missing=0 tool
  for entry in "${REQUIREMENTS[@]}"; do
    IFS='|' read -r program package why <<<"$entry"
    if present "$program"; then
      echo "ok       $program"
    else
      echo "missing  $program (apt-get install $package): $why"
      missing=1
    fi
  done
  # Built, not packaged: from the Go module proxy, for the chart tests (Helm) and its rules (promtool).
  if tool="$(bash "$INSTALL_HELM" --check)"; then
    echo "ok       helm ($tool)"
  else
    echo "missing  $tool"
    missing=1
  fi
  if tool="$(bash "$INSTALL_PROMTOOL" --check)"; then
    echo "ok       promtool ($tool)"
  else
    echo "missing  $tool"
    missing=1
  fi
  return "$missing"
}

case "${1:-}" in
  "")
    install_packages
    bash "$INSTALL_HELM" --check >/dev/null \
      || log "Helm is not built yet: deploy/helm/install-helm.sh builds it (about 100 s on 2 cores, once)"
    bash "$INSTALL_HELM" >/dev/null
    bash "$INSTALL_PROMTOOL" --check >/dev/null \
      || log "promtool is not built yet: deploy/helm/install-promtool.sh builds it (about 3.5 min on 2 cores, once)"
    bash "$INSTALL_PROMTOOL" >/dev/null
    ;;
  --check) check ;;
  *) sed -n '2,/^set /{/^#/p}' "$0" >&2; exit 2 ;;
esac
