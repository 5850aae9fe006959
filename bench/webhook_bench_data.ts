/**
 * Data of the webhook benchmark: caches as full as a busy cluster's informers, and pod
 * AdmissionReviews as a ReplicaSet controller's creates would produce them.
 *
 * @module
 */
import {
  API_VERSION,
  CLAIM_PHASE,
  FINALIZER,
  HOST_PORT_PHASE,
  type HostPort,
  type HostPortClaim,
  type HostPortClass,
  KIND,
} from "../lib/api/mod.ts";
import type { AdmissionLookups } from "../webhook/lookups.ts";
import { memoryLookups } from "../tests/webhook_fixtures.ts";

/** Namespaces the claims are spread over. */
export const NAMESPACES = 100;

/** Lookups over `Store` caches of `count` bound claims and their Allocated HostPorts. */
export function benchLookups(count: number): AdmissionLookups {
  const claims: HostPortClaim[] = [];
  const hostPorts: HostPort[] = [];
  for (let i = 0; i < count; i++) {
    const namespace = `team-${i % NAMESPACES}`;
    claims.push({
      apiVersion: API_VERSION,
      kind: KIND.HostPortClaim,
      metadata: { name: `claim-${i}`, namespace, uid: `uid-${i}`, finalizers: [FINALIZER] },
      spec: { hostPortClassName: "games", hostPortName: `hpc-uid-${i}` },
      status: { phase: CLAIM_PHASE.Bound, port: 20_000 + i },
    });
    hostPorts.push({
      apiVersion: API_VERSION,
      kind: KIND.HostPort,
      metadata: { name: `hpc-uid-${i}`, finalizers: [FINALIZER] },
      spec: {
        hostPortClassName: "games",
        claimRef: { namespace, name: `claim-${i}`, uid: `uid-${i}` },
      },
      status: { phase: HOST_PORT_PHASE.Allocated, port: 20_000 + i },
    });
  }
  const games: HostPortClass = {
    apiVersion: API_VERSION,
    kind: KIND.HostPortClass,
    metadata: { name: "games" },
    spec: { pools: [{ start: 20_000, end: 29_999 }] },
  };
  return memoryLookups(claims, hostPorts, [games]);
}

/** A pod as a Deployment would create it (about 2 KiB of JSON), naming claim `i`. */
export function podReview(i: number): string {
  const namespace = `team-${i % NAMESPACES}`;
  const container = (name: string, ports: unknown[]) => ({
    name,
    image: `registry.example.com/games/${name}:1.4.2`,
    ports,
    env: [{
      name: "GAME_PORT",
      valueFrom: {
        fieldRef: { fieldPath: "metadata.annotations['port.hostport.rmb938.com/game']" },
      },
    }],
    resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { memory: "512Mi" } },
    volumeMounts: [{ name: "config", mountPath: "/etc/game" }],
    terminationMessagePolicy: "File",
    imagePullPolicy: "IfNotPresent",
  });
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      generateName: `server-${i}-7d9f8b6c5-`,
      namespace,
      labels: { app: "game-server", "pod-template-hash": "7d9f8b6c5", shard: String(i) },
      annotations: { "claim.hostport.rmb938.com/game": `claim-${i}` },
      ownerReferences: [{
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        name: `server-${i}-7d9f8b6c5`,
        uid: `rs-${i}`,
        controller: true,
      }],
    },
    spec: {
      containers: [
        container("game", [{ name: "game", containerPort: 7777, protocol: "UDP" }]),
        container("metrics", [{ name: "metrics", containerPort: 9100, protocol: "TCP" }]),
      ],
      volumes: [{ name: "config", configMap: { name: "game-config" } }],
      restartPolicy: "Always",
      terminationGracePeriodSeconds: 30,
      dnsPolicy: "ClusterFirst",
      serviceAccountName: "default",
      tolerations: [{
        key: "node.kubernetes.io/not-ready",
        operator: "Exists",
        effect: "NoExecute",
        tolerationSeconds: 300,
      }],
    },
  };
  return JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: crypto.randomUUID(),
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      requestKind: { group: "", version: "v1", kind: "Pod" },
      namespace,
      operation: "CREATE",
      userInfo: { username: "system:serviceaccount:kube-system:replicaset-controller" },
      object: pod,
      dryRun: false,
      options: { kind: "CreateOptions", apiVersion: "meta.k8s.io/v1" },
    },
  });
}
