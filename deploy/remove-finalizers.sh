#!/usr/bin/env bash
# Cleans up after hostport-allocator when its operator is already gone (uninstalled first, or
# crash-looping), so that HostPortClaims, HostPorts, HostPortClasses and the CRDs can be deleted:
#   1. deletes the operator's webhook configurations (with failurePolicy Fail and no server,
#      they refuse every write to the three kinds and every pod in labelled namespaces);
#   2. removes the finalizers of every HostPortClaim, HostPort and HostPortClass.
# Ports are not tracked any more afterwards: run it only to uninstall.
#
#   bash deploy/remove-finalizers.sh            # uses kubectl's current context
set -euo pipefail

kubectl delete mutatingwebhookconfiguration hostport-allocator-crd hostport-allocator-pod --ignore-not-found
kubectl delete validatingwebhookconfiguration hostport-allocator-crd --ignore-not-found

unfinalize='{"metadata":{"finalizers":null}}'
kubectl get hostportclaims --all-namespaces \
  -o jsonpath='{range .items[*]}{.metadata.namespace}{" "}{.metadata.name}{"\n"}{end}' |
  while read -r namespace name; do
    kubectl patch hostportclaim "$name" --namespace "$namespace" --type=merge -p "$unfinalize"
  done
for kind in hostports hostportclasses; do
  kubectl get "$kind" -o name | while read -r object; do
    kubectl patch "$object" --type=merge -p "$unfinalize"
  done
done
