#!/usr/bin/env bash
# Builds helm from the Go module proxy (helm.sh/helm/v4) into the same cache as build.sh, keyed by
# version, and prints the directory holding the `helm` binary. Uses the Go toolchain build.sh
# finds or fetches (it must have run first; the `test` task runs it before this script).
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v4.3.2}"
CACHE="${HOSTPORT_ENVTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hostport-allocator/envtest}"
DIR="$CACHE/helm-${HELM_VERSION#v}"

log() { echo "build_helm.sh: $*" >&2; }

# reports PATTERN CMD...: CMD succeeds and its output matches PATTERN (see build.sh).
reports() {
  local out
  out=$("${@:2}" 2>/dev/null) || return 1
  grep -q -- "$1" <<<"$out"
}

if reports "$HELM_VERSION" "$DIR/helm" version --short; then
  echo "$DIR"
  exit 0
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9 # one builder at a time, shared with build.sh

if ! reports "$HELM_VERSION" "$DIR/helm" version --short; then
  # The Go toolchain build.sh uses: the go on PATH if it is >= 1.25, else the one build.sh
  # fetched into the cache (GO_FALLBACK_VERSION there).
  go_minor=$(GOTOOLCHAIN=local go version 2>/dev/null | sed -nE 's/^go version go1\.([0-9]+).*/\1/p')
  if [ "${go_minor:-0}" -lt 25 ]; then
    case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) arch=unknown ;; esac
    export PATH="$CACHE/go-toolchain/go${GO_FALLBACK_VERSION:-1.26.8}.linux-$arch/bin:$PATH"
  fi
  command -v go >/dev/null || { log "Go >= 1.25 is needed to build helm: run build.sh first"; exit 1; }
  export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-modcacherw
  export GOMODCACHE="$CACHE/gomod" GOCACHE="$CACHE/gocache"
  mod="$CACHE/build/helm-$HELM_VERSION"
  mkdir -p "$mod" "$DIR"
  cd "$mod"
  printf 'module local.test/helm\n\ngo 1.25.0\n\ntool helm.sh/helm/v4/cmd/helm\n\nrequire helm.sh/helm/v4 %s\n' \
    "$HELM_VERSION" >go.mod
  log "resolving helm.sh/helm/v4 $HELM_VERSION"
  go mod tidy
  log "building helm $HELM_VERSION"
  go build -trimpath -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
    -o "$DIR/helm.tmp" helm.sh/helm/v4/cmd/helm
  mv "$DIR/helm.tmp" "$DIR/helm"
fi
reports "$HELM_VERSION" "$DIR/helm" version --short || { log "helm $HELM_VERSION missing in $DIR after the build"; exit 1; }
echo "$DIR"
