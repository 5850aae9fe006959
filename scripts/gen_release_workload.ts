/**
 * The operator's workload: Namespace, ServiceAccount, Deployment (two replicas with leader
 * election, hardened for the `restricted` Pod Security level), PodDisruptionBudget and Service.
 *
 * @module
 */
import type { Deployment } from "kubernetes-types/apps/v1.d.ts";
import type {
  Container,
  Namespace,
  Service,
  ServiceAccount,
  Volume,
  VolumeMount,
} from "kubernetes-types/core/v1.d.ts";
import type { PodDisruptionBudget } from "kubernetes-types/policy/v1.d.ts";
import type { TlsVariant } from "./gen_release_rbac.ts";
import { DEFAULT_CERT_DIR } from "../lib/ops/flags.ts";
import {
  COMMON_LABELS,
  IMAGE_REPOSITORY,
  NAMES,
  objectMeta,
  PORTS,
  RELEASE_VERSION,
  SELECTOR_LABELS,
} from "./gen_release_names.ts";

/** Replicas of the Deployment: one leader runs the controllers, every replica serves webhooks. */
export const REPLICAS = 2;
/** The operator container's pull policy (the chart's default too). */
export const PULL_POLICY = "IfNotPresent";
/** The operator container's resources (the chart's default too). */
export const RESOURCES = {
  requests: { cpu: "100m", memory: "128Mi" },
  limits: { cpu: "1", memory: "512Mi" },
};
/** Seconds the kubelet waits after SIGTERM; above the operator's 30 s shutdown bound. */
const TERMINATION_GRACE_SECONDS = 40;

/** The operator namespace; the pods in it meet the `restricted` Pod Security level. */
export function namespace(): Namespace {
  const metadata = objectMeta(NAMES.namespace);
  metadata.labels["pod-security.kubernetes.io/enforce"] = "restricted";
  metadata.labels["pod-security.kubernetes.io/enforce-version"] = "latest";
  return { apiVersion: "v1", kind: "Namespace", metadata };
}

/** The ServiceAccount the operator runs as. */
export function serviceAccount(): ServiceAccount {
  const metadata = objectMeta(NAMES.serviceAccount, NAMES.namespace);
  return { apiVersion: "v1", kind: "ServiceAccount", metadata };
}

/** The operator's arguments for a variant. */
export function operatorArgs(variant: TlsVariant): string[] {
  const common = ["--leader-elect=true", "--log-format=json"];
  if (variant === "cert-manager") return [...common, `--webhook-cert-dir=${DEFAULT_CERT_DIR}`];
  return [...common, "--webhook-self-signed=true", `--webhook-service-name=${NAMES.service}`];
}

function volumes(variant: TlsVariant): { volumes: Volume[]; mounts: VolumeMount[] } {
  // The root file system is read-only; /tmp stays writable for the runtime.
  const volumes: Volume[] = [{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }];
  const mounts: VolumeMount[] = [{ name: "tmp", mountPath: "/tmp" }];
  if (variant === "cert-manager") {
    volumes.push({ name: "cert", secret: { secretName: NAMES.tlsSecret, defaultMode: 0o440 } });
    mounts.push({ name: "cert", mountPath: DEFAULT_CERT_DIR, readOnly: true });
  }
  return { volumes, mounts };
}

function container(variant: TlsVariant, mounts: VolumeMount[]): Container {
  const probe = (path: string, periodSeconds: number) => ({
    httpGet: { path, port: "health" },
    periodSeconds,
    timeoutSeconds: 2,
    failureThreshold: 3,
  });
  return {
    name: NAMES.container,
    image: `${IMAGE_REPOSITORY}:${RELEASE_VERSION}`,
    imagePullPolicy: PULL_POLICY,
    args: operatorArgs(variant),
    env: [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
    ports: [
      { name: "health", containerPort: PORTS.health, protocol: "TCP" },
      { name: "metrics", containerPort: PORTS.metrics, protocol: "TCP" },
      { name: "webhook", containerPort: PORTS.webhook, protocol: "TCP" },
    ],
    livenessProbe: { ...probe("/healthz", 10), initialDelaySeconds: 5 },
    readinessProbe: probe("/readyz", 5),
    resources: RESOURCES,
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
    volumeMounts: mounts,
  };
}

/** The operator Deployment. */
export function deployment(variant: TlsVariant): Deployment {
  const { volumes: podVolumes, mounts } = volumes(variant);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: objectMeta(NAMES.app, NAMES.namespace),
    spec: {
      replicas: REPLICAS,
      selector: { matchLabels: { ...SELECTOR_LABELS } },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          labels: { ...COMMON_LABELS, ...SELECTOR_LABELS },
          annotations: {
            "prometheus.io/scrape": "true",
            "prometheus.io/path": "/metrics",
            "prometheus.io/port": String(PORTS.metrics),
          },
        },
        spec: {
          serviceAccountName: NAMES.serviceAccount,
          terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            runAsGroup: 65532,
            fsGroup: 65532,
            seccompProfile: { type: "RuntimeDefault" },
          },
          // Spread the replicas over nodes so one node going away leaves a webhook server.
          topologySpreadConstraints: [{
            maxSkew: 1,
            topologyKey: "kubernetes.io/hostname",
            whenUnsatisfiable: "ScheduleAnyway",
            labelSelector: { matchLabels: { ...SELECTOR_LABELS } },
          }],
          containers: [container(variant, mounts)],
          volumes: podVolumes,
        },
      },
    },
  };
}

/** Keeps one replica (a webhook server) up through voluntary disruptions. */
export function podDisruptionBudget(): PodDisruptionBudget {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: objectMeta(NAMES.app, NAMES.namespace),
    spec: { minAvailable: 1, selector: { matchLabels: { ...SELECTOR_LABELS } } },
  };
}

/** The Service the API server calls the webhooks through (443 -> 9443) and metrics (8080). */
export function service(): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: objectMeta(NAMES.service, NAMES.namespace),
    spec: {
      type: "ClusterIP",
      selector: { ...SELECTOR_LABELS },
      ports: [
        { name: "webhook", port: PORTS.webhookService, targetPort: "webhook", protocol: "TCP" },
        { name: "metrics", port: PORTS.metrics, targetPort: "metrics", protocol: "TCP" },
      ],
    },
  };
}
