/**
 * Objects of the per-pod claim tests (`per_pod_claims_test.ts`), shared so the real-node tier can
 * play the same workloads with images that answer on their ports (pass its own `spec`).
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Deployment, StatefulSet } from "kubernetes-types/apps/v1.d.ts";
import type { Job } from "kubernetes-types/batch/v1.d.ts";
import type { Pod, PodSpec } from "kubernetes-types/core/v1.d.ts";
import {
  API_VERSION,
  CLAIM_TEMPLATE_ANNOTATION_PREFIX,
  type HostPortClaimTemplate,
  PORT_ANNOTATION_PREFIX,
} from "../lib/api/mod.ts";

/** A template of class `className`. */
export function templateObject(
  namespace: string,
  name: string,
  className: string,
): HostPortClaimTemplate {
  return {
    apiVersion: API_VERSION,
    kind: "HostPortClaimTemplate",
    metadata: { name, namespace },
    spec: { hostPortClassName: className, metadata: { labels: { team: "games" } } },
  };
}

/** A pod template with labels, annotations and a spec. */
export interface PodTemplate {
  /** `app` label; annotations. */
  metadata: { labels: Record<string, string>; annotations: Record<string, string> };
  /** The pod spec. */
  spec: PodSpec;
}

/**
 * A pod template naming template `template` for its port `web` (a busybox container that never
 * runs on the API tier; pass `spec` for one that answers on a real node).
 */
export function podTemplate(
  app: string,
  template: string,
  extra: Record<string, string> = {},
  spec?: PodSpec,
): PodTemplate {
  if (spec !== undefined) {
    return {
      metadata: {
        labels: { app },
        annotations: { [`${CLAIM_TEMPLATE_ANNOTATION_PREFIX}web`]: template, ...extra },
      },
      spec,
    };
  }
  return {
    metadata: {
      labels: { app },
      annotations: { [`${CLAIM_TEMPLATE_ANNOTATION_PREFIX}web`]: template, ...extra },
    },
    spec: {
      terminationGracePeriodSeconds: 0,
      containers: [{ name: "c", image: "busybox", ports: [{ name: "web", containerPort: 8080 }] }],
    },
  };
}

/** A StatefulSet (`Parallel`) whose pods name template `port` for their port `web`. */
export function statefulSet(
  namespace: string,
  name: string,
  replicas: number,
  policy: { whenDeleted: string; whenScaled: string },
  spec?: PodSpec,
): StatefulSet {
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name, namespace },
    spec: {
      replicas,
      serviceName: name,
      podManagementPolicy: "Parallel",
      persistentVolumeClaimRetentionPolicy: policy,
      selector: { matchLabels: { app: name } },
      template: podTemplate(name, "port", {}, spec),
    },
  };
}

/**
 * A Deployment whose pods name template `template` for their port `web`; `revision` is a pod
 * annotation (changing it rolls the Deployment out).
 */
export function deployment(
  namespace: string,
  name: string,
  replicas: number,
  template: string,
  revision: string,
  spec?: PodSpec,
): Deployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: podTemplate(name, template, { revision }, spec),
    },
  };
}

/** A Job of one pod (`restartPolicy: Never`) naming template `template` for its port `web`. */
export function job(namespace: string, name: string, template: string, spec?: PodSpec): Job {
  const pod = podTemplate(name, template, {}, spec);
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace },
    spec: {
      backoffLimit: 0,
      template: { ...pod, spec: { ...pod.spec, restartPolicy: "Never" } },
    },
  };
}

/** A pod's port `web`: its hostPort, checked equal to its `port.` annotation. */
export function portOf(pod: Pod): number | undefined {
  const text = pod.metadata?.annotations?.[`${PORT_ANNOTATION_PREFIX}web`];
  const hostPort = pod.spec?.containers[0]?.ports?.[0]?.hostPort;
  if (text === undefined || hostPort === undefined) return undefined;
  assert.equal(Number(text), hostPort, `${pod.metadata?.name}: annotation and hostPort agree`);
  return hostPort;
}
