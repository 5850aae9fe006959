#!/usr/bin/env bash
# Builds kube-apiserver, kubectl, kube-controller-manager, kube-scheduler and etcd from the Go
# module proxy into a cache outside the repository, keyed by version, and prints the directory
# (usable as KUBEBUILDER_ASSETS).
# An existing KUBEBUILDER_ASSETS directory with the binaries in it is used as is.
#
#   bash build.sh          # the control plane
#   bash build.sh --node   # also kubelet, kube-proxy and the real-node tier's pause and agnhost
#                          # stand-in (tests/realnode/images), always into the cache
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

K8S_VERSION="${K8S_VERSION:-v1.35.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
CACHE="${HOSTPORT_ENVTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hostport-allocator/envtest}"

K8S_COMMANDS="kube-apiserver kubectl kube-controller-manager kube-scheduler"
# The node's binaries come from the same wrapper module, caches and flags, into the same directory.
NODE=false
if [ "${1:-}" = --node ]; then NODE=true K8S_COMMANDS="$K8S_COMMANDS kubelet kube-proxy"; fi

have_all() {
  local c
  for c in $K8S_COMMANDS etcd; do [ -x "$1/$c" ] || return 1; done
}

if [ "$NODE" = false ] && [ -n "${KUBEBUILDER_ASSETS:-}" ] && have_all "$KUBEBUILDER_ASSETS"; then
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi

ASSETS="$CACHE/k8s-${K8S_VERSION#v}-etcd-${ETCD_VERSION#v}"
mkdir -p "$ASSETS"
exec 9>"$CACHE/.lock"
flock 9 # one builder at a time; a second caller waits and then reuses the result

log() { echo "build.sh: $*" >&2; }

# Go >= 1.25 builds k8s 1.35. Without it, fetch the toolchain the Go module proxy serves as the
# module golang.org/toolchain (what GOTOOLCHAIN=go1.26.8 would fetch), check it against the
# checksum database (through the proxy), and keep it in the cache.
GO_FALLBACK_VERSION="${GO_FALLBACK_VERSION:-1.26.8}"

go_is_recent() { # the go on PATH is >= 1.25
  local v
  v=$(GOTOOLCHAIN=local go version 2>/dev/null) || return 1
  v=${v#go version go}; v=${v%% *}
  local major=${v%%.*} rest=${v#*.}; local minor=${rest%%[!0-9]*}
  ((major > 1 || (major == 1 && minor >= 25)))
}

zip_dirhash() { # the h1: hash (golang.org/x/mod/sumdb/dirhash.Hash1) of the files under $1
  local hex
  hex=$(cd "$1" && find . -type f -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum | sha256sum | cut -d' ' -f1)
  printf '%s' "h1:"; printf "$(sed 's/../\\x&/g' <<<"$hex")" | base64
}

fetch_go() {
  local arch dir proxy mod tmp want got
  case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) log "no Go toolchain for $(uname -m)"; return 1 ;; esac
  dir="$CACHE/go-toolchain/go$GO_FALLBACK_VERSION.linux-$arch"
  if [ ! -x "$dir/bin/go" ]; then
    proxy="${GOPROXY:-https://proxy.golang.org}"; proxy=${proxy%%[,|]*}
    case "$proxy" in direct | off | "") proxy=https://proxy.golang.org ;; esac
    mod="golang.org/toolchain@v0.0.1-go$GO_FALLBACK_VERSION.linux-$arch"
    log "fetching Go $GO_FALLBACK_VERSION from $proxy"
    mkdir -p "$CACHE/go-toolchain"
    tmp=$(mktemp -d "$CACHE/go-toolchain/.fetch.XXXXXX")
    trap "rm -rf '$tmp'" EXIT
    # (set -e does not apply inside a function called with ||, hence the explicit returns)
    curl -fsSL --retry 3 -o "$tmp/go.zip" "$proxy/${mod%@*}/@v/${mod#*@}.zip" || return 1
    want=$(curl -fsSL --retry 3 "$proxy/sumdb/sum.golang.org/lookup/$mod" |
      awk -v m="${mod%@*}" -v v="${mod#*@}" '$1 == m && $2 == v { print $3 }') || return 1
    unzip -q "$tmp/go.zip" -d "$tmp/x" || return 1
    got=$(zip_dirhash "$tmp/x") || return 1
    if [ -z "$want" ] || [ "$want" != "$got" ]; then log "Go toolchain checksum mismatch: want '$want', got '$got'"; return 1; fi
    rm -rf "$dir"
    mv "$tmp/x/$mod" "$dir" || return 1
    rm -rf "$tmp"
    trap - EXIT
  fi
  export PATH="$dir/bin:$PATH"
}

if ! go_is_recent; then
  fetch_go || { log "the Go toolchain (go >= 1.25) is needed to build the control plane"; exit 1; }
fi

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-modcacherw
export GOMODCACHE="$CACHE/gomod" GOCACHE="$CACHE/gocache"

minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
staging_version="v0.${K8S_VERSION#v1.}"
case "$minor" in 33 | 34) golang=1.24 ;; 35) golang=1.25 ;; *) golang=1.26 ;; esac

# reports PATTERN CMD...: CMD succeeds and its output matches PATTERN. Not `CMD | grep -q`: grep
# may exit before CMD has written everything, and with pipefail CMD's SIGPIPE fails the check.
reports() {
  local out
  out=$("${@:2}" 2>/dev/null) || return 1
  grep -q -- "$1" <<<"$out"
}

k8s_built() { # the binary $1 is in $ASSETS and reports $K8S_VERSION
  case "$1" in
  kubectl) reports "$K8S_VERSION" "$ASSETS/kubectl" version --client ;;
  *) reports "$K8S_VERSION\$" "$ASSETS/$1" --version ;;
  esac
}

build_kubernetes() {
  local cmd missing=""
  for cmd in $K8S_COMMANDS; do k8s_built "$cmd" || missing="$missing $cmd"; done
  if [ -z "$missing" ]; then return 0; fi
  local mod="$CACHE/build/kubernetes-$K8S_VERSION"
  mkdir -p "$mod"
  cd "$mod"
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and maps them with local replaces,
  # which a dependency's go.mod cannot do; this wrapper module re-states them at real versions.
  local staging="api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
    cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api cri-client
    csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator
    kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics mount-utils
    pod-security-admission sample-apiserver sample-cli-plugin sample-controller"
  if ((minor >= 36)); then staging="$staging streaming cri-streaming"; fi
  {
    printf 'module local.test/kubernetes\n\ngo %s.0\n\ngodebug default=go%s\n\n' "$golang" "$golang"
    printf 'tool (\n'
    for cmd in $K8S_COMMANDS; do printf '\tk8s.io/kubernetes/cmd/%s\n' "$cmd"; done
    printf ')\n\n'
    printf 'require k8s.io/kubernetes %s\n\nreplace (\n' "$K8S_VERSION"
    for m in $staging; do printf '\tk8s.io/%s => k8s.io/%s %s\n' "$m" "$m" "$staging_version"; done
    printf ')\n'
  } >go.mod
  log "resolving k8s.io/kubernetes $K8S_VERSION"
  go mod tidy
  local date ld="-s -w"
  date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=$date"
  done
  for cmd in $missing; do
    log "building $cmd $K8S_VERSION"
    go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ld" -o "$ASSETS/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
    mv "$ASSETS/$cmd.tmp" "$ASSETS/$cmd"
  done
}

build_etcd() {
  if reports "${ETCD_VERSION#v}" "$ASSETS/etcd" --version; then return 0; fi
  local mod="$CACHE/build/etcd-$ETCD_VERSION"
  mkdir -p "$mod"
  cd "$mod"
  printf 'module local.test/etcd\n\ngo 1.25.0\n\ntool go.etcd.io/etcd/server/v3\n\nrequire go.etcd.io/etcd/server/v3 %s\n' \
    "$ETCD_VERSION" >go.mod
  log "building etcd $ETCD_VERSION"
  go mod tidy
  go build -trimpath -ldflags "-s -w" -o "$ASSETS/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$ASSETS/etcd.tmp" "$ASSETS/etcd"
}

build_images() { # the programs of the real-node tier's own images, rebuilt each time (cached by Go)
  local cmd
  cd "$HERE/../realnode/images"
  mkdir -p "$ASSETS/realnode-images"
  for cmd in pause agnhost; do
    go build -trimpath -ldflags "-s -w" -o "$ASSETS/realnode-images/$cmd.tmp" "./$cmd"
    mv "$ASSETS/realnode-images/$cmd.tmp" "$ASSETS/realnode-images/$cmd"
  done
}

build_etcd
build_kubernetes
if [ "$NODE" = true ]; then build_images; fi
have_all "$ASSETS" || { log "binaries missing in $ASSETS after the build"; exit 1; }
echo "$ASSETS"
