#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from the Go module proxy into a cache outside the
# repository, keyed by version, and prints the directory (usable as KUBEBUILDER_ASSETS).
# An existing KUBEBUILDER_ASSETS directory with the binaries in it is used as is.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.35.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
CACHE="${HOSTPORT_ENVTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hostport-allocator/envtest}"

have_all() { [ -x "$1/kube-apiserver" ] && [ -x "$1/etcd" ] && [ -x "$1/kubectl" ]; }

if [ -n "${KUBEBUILDER_ASSETS:-}" ] && have_all "$KUBEBUILDER_ASSETS"; then
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi

ASSETS="$CACHE/k8s-${K8S_VERSION#v}-etcd-${ETCD_VERSION#v}"
mkdir -p "$ASSETS"
exec 9>"$CACHE/.lock"
flock 9 # one builder at a time; a second caller waits and then reuses the result

command -v go >/dev/null || { echo "build.sh: the Go toolchain (go >= 1.25) is needed to build the control plane" >&2; exit 1; }

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-modcacherw
export GOMODCACHE="$CACHE/gomod" GOCACHE="$CACHE/gocache"

minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
staging_version="v0.${K8S_VERSION#v1.}"
case "$minor" in 33 | 34) golang=1.24 ;; 35) golang=1.25 ;; *) golang=1.26 ;; esac

log() { echo "build.sh: $*" >&2; }

build_kubernetes() {
  if "$ASSETS/kube-apiserver" --version 2>/dev/null | grep -q "$K8S_VERSION\$" &&
    "$ASSETS/kubectl" version --client 2>/dev/null | grep -q "$K8S_VERSION"; then
    return 0
  fi
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
    printf 'tool (\n\tk8s.io/kubernetes/cmd/kube-apiserver\n\tk8s.io/kubernetes/cmd/kubectl\n)\n\n'
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
  for cmd in kube-apiserver kubectl; do
    log "building $cmd $K8S_VERSION"
    go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ld" -o "$ASSETS/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
    mv "$ASSETS/$cmd.tmp" "$ASSETS/$cmd"
  done
}

build_etcd() {
  if "$ASSETS/etcd" --version 2>/dev/null | grep -q "${ETCD_VERSION#v}"; then return 0; fi
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

build_etcd
build_kubernetes
have_all "$ASSETS" || { log "binaries missing in $ASSETS after the build"; exit 1; }
echo "$ASSETS"
