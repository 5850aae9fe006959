/**
 * The end-to-end rig: a real kube-apiserver, our admission server on 127.0.0.1 with the
 * harness's webhook certificate, the server's lookups (claims read live, HostPorts and classes
 * from informers), the release's webhook configurations (by URL), and kubectl helpers. With no
 * controllers running, tests set up Bound claims and Allocated HostPorts themselves, writing
 * status through `/status`; HostPort ports are written as the operator's identity (the admin's
 * own username unless the test names another, which kubectl then impersonates).
 */
import assert from "node:assert/strict";
import { CLAIM_ANNOTATION_PREFIX } from "../lib/api/mod.ts";
import {
  createKubeClients,
  Informer,
  type KubeClients,
  KubeRestClient,
  loadClusterConfig,
  selfUsername,
} from "../lib/kube/mod.ts";
import { cachesSynced } from "../lib/controller/context.ts";
import { releaseWebhooksAt } from "./demo/local_operator.ts";
import {
  admissionOptionsWithTemplateWait,
  startWebhookServer,
  type WebhookServer,
} from "../webhook/server.ts";
import { admissionLookups } from "../webhook/server_lookups.ts";
import { StaticCertificateSource } from "./webhook_fixtures.ts";
import type { AdmissionLookups, AdmissionOptions } from "../webhook/lookups.ts";
import type { Logger } from "../lib/ops/contracts.ts";
import { PrometheusRegistry } from "../lib/ops/metrics_registry.ts";
import {
  type ControlPlane,
  type ControlPlaneOptions,
  type KubectlResult,
  startControlPlane,
} from "./controlplane/harness.ts";

/** Admission lookups over informers of their own; `synced` resolves true once they are filled. */
export interface RunningLookups extends AsyncDisposable {
  lookups: AdmissionLookups;
  synced: Promise<boolean>;
  stop(): Promise<void>;
}

/** Starts {@linkcode RunningLookups}, as the operator's over its shared caches. */
export function startOwnLookups(
  kube: KubeClients,
  options: Parameters<typeof admissionLookups>[2] = {},
): RunningLookups {
  const caches = {
    hostPorts: new Informer(kube.hostPorts),
    classes: new Informer(kube.hostPortClasses),
    claims: new Informer(kube.hostPortClaims),
    quotas: new Informer(kube.quotas),
  };
  const informers = Object.values(caches);
  for (const informer of informers) informer.start();
  const stop = async () => void await Promise.all(informers.map((informer) => informer.stop()));
  return {
    lookups: admissionLookups(kube, caches, options),
    synced: cachesSynced(caches),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** A running rig; dispose it to stop everything. */
export interface E2eCluster extends AsyncDisposable {
  /** The control plane. */
  cp: ControlPlane;
  /** Typed clients as admin. */
  kube: KubeClients;
  /** Our admission server. */
  server: WebhookServer;
  /** The registry the admission server records its metrics into. */
  metrics: PrometheusRegistry;
  /** The username the admission server takes for the operator's. */
  operatorUsername: string;
  /** kubectl flags that act as the operator (none when the operator is the admin). */
  asOperator: string[];
  /** Runs kubectl as admin, with `stdin` when given. */
  kubectl(args: readonly string[], stdin?: string): Promise<KubectlResult>;
  /** `kubectl apply -f -` of a manifest; fails the test when kubectl fails. */
  apply(manifest: unknown): Promise<void>;
  /** `kubectl create -f -` of a manifest, returning kubectl's result. */
  create(manifest: unknown): Promise<KubectlResult>;
  /** `kubectl get <resource> [-n ns] -o jsonpath=<path>`. */
  get(resource: string, jsonPath: string, namespace?: string): Promise<string>;
  /**
   * Creates claim `namespace/name` of class c1 and binds it as the controllers would: HostPort
   * `hpc-<uid>` with the claimRef, then `spec.hostPortName`, then the HostPort `Allocated` with
   * `port` (or left Pending when `port` is 0), then the claim `Bound`. Returns the HostPort name.
   */
  bindClaim(namespace: string, name: string, port: number): Promise<string>;
}

async function run(cp: ControlPlane, args: readonly string[], stdin?: string) {
  return await cp.kubectl(args, stdin === undefined ? {} : { stdin });
}

async function must(cp: ControlPlane, args: readonly string[], stdin?: string): Promise<string> {
  const result = await run(cp, args, stdin);
  assert.equal(result.code, 0, `kubectl ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

function manifestText(manifest: unknown): string {
  return typeof manifest === "string" ? manifest : JSON.stringify(manifest);
}

async function bindClaim(
  cp: ControlPlane,
  asOperator: readonly string[],
  namespace: string,
  name: string,
  port: number,
) {
  await must(
    cp,
    ["apply", "-f", "-"],
    manifestText({
      apiVersion: "hostport.rmb938.com/v1alpha1",
      kind: "HostPortClaim",
      metadata: { name, namespace },
      spec: { hostPortClassName: "c1" },
    }),
  );
  const uid = await must(cp, [
    "get",
    "hpc",
    name,
    "-n",
    namespace,
    "-o",
    "jsonpath={.metadata.uid}",
  ]);
  const hostPort = `hpc-${uid}`;
  await must(
    cp,
    ["create", "-f", "-"],
    manifestText({
      apiVersion: "hostport.rmb938.com/v1alpha1",
      kind: "HostPort",
      metadata: { name: hostPort },
      spec: { hostPortClassName: "c1", claimRef: { namespace, name, uid } },
    }),
  );
  await must(cp, [
    "patch",
    "hpc",
    name,
    "-n",
    namespace,
    "--type=merge",
    "-p",
    JSON.stringify({ spec: { hostPortName: hostPort } }),
  ]);
  if (port > 0) {
    await must(cp, [
      ...asOperator,
      "patch",
      "hp",
      hostPort,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status: { phase: "Allocated", port } }),
    ]);
  }
  const status = port > 0 ? { phase: "Bound", port } : { phase: "Bound" };
  await must(cp, [
    "patch",
    "hpc",
    name,
    "-n",
    namespace,
    "--subresource=status",
    "--type=merge",
    "-p",
    JSON.stringify({ status }),
  ]);
  return hostPort;
}

/** Options of {@linkcode startE2eCluster}. */
export interface E2eClusterOptions {
  /** The operator's username; default the admin's own (from a SelfSubjectReview). */
  operatorUsername?: string;
  /** Builds the admission server's lookups; default `startOwnLookups`. */
  startLookups?: (kube: KubeClients) => RunningLookups;
  /** How to start the control plane (such as `{ controllers: true }`); the defaults otherwise. */
  controlPlane?: ControlPlaneOptions;
  /** Admission options over the defaults (such as `onTemplateRefusal`). */
  admission?: AdmissionOptions;
  /** The admission server's logger (for example to read each request's `durationMs`). */
  logger?: Logger;
}

/** Starts the rig; the admission server's lookups are synced before it returns. */
export async function startE2eCluster(options: E2eClusterOptions = {}): Promise<E2eCluster> {
  const cp = await startControlPlane(options.controlPlane);
  let rest: KubeRestClient | undefined;
  let lookups: RunningLookups | undefined;
  let server: WebhookServer | undefined;
  try {
    rest = new KubeRestClient(await loadClusterConfig({ kubeconfig: cp.kubeconfigPath }));
    const kube = createKubeClients(rest);
    lookups = (options.startLookups ?? startOwnLookups)(kube);
    assert.equal(await lookups.synced, true);
    const admin = await selfUsername(kube.rest);
    const operatorUsername = options.operatorUsername ?? admin;
    const asOperator = operatorUsername === admin
      ? []
      : [`--as=${operatorUsername}`, "--as-group=system:masters"];
    const tls = await cp.webhookTls();
    const metrics = new PrometheusRegistry();
    server = await startWebhookServer({
      certificates: new StaticCertificateSource(tls.certPem, tls.keyPem),
      lookups: lookups.lookups,
      admission: {
        ...admissionOptionsWithTemplateWait(),
        operatorUsername: () => operatorUsername,
        ...options.admission,
      },
      hostname: "127.0.0.1",
      port: 0,
      metrics,
      ...options.logger === undefined ? {} : { logger: options.logger },
    });
    const baseUrl = `https://127.0.0.1:${server.port}`;
    for (const configuration of releaseWebhooksAt(baseUrl, tls.caBundle)) {
      await must(cp, ["apply", "-f", "-"], JSON.stringify(configuration));
    }
    const stop = async () => {
      await server?.shutdown();
      await lookups?.stop();
      rest?.close();
      await cp.stop();
    };
    const running = server;
    return {
      cp,
      kube,
      server: running,
      metrics,
      operatorUsername,
      asOperator,
      kubectl: (args, stdin) => run(cp, args, stdin),
      apply: async (manifest) => void await must(cp, ["apply", "-f", "-"], manifestText(manifest)),
      create: (manifest) => run(cp, ["create", "-f", "-"], manifestText(manifest)),
      get: (resource, jsonPath, namespace) =>
        must(cp, [
          "get",
          ...resource.split(" "),
          ...(namespace ? ["-n", namespace] : []),
          "-o",
          `jsonpath=${jsonPath}`,
        ]),
      bindClaim: (namespace, name, port) => bindClaim(cp, asOperator, namespace, name, port),
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await server?.shutdown();
    await lookups?.stop();
    rest?.close();
    await cp.stop();
    throw error;
  }
}

/** A container port of {@linkcode pod}. */
export interface PortSpec {
  name?: string;
  containerPort: number;
  hostPort?: number;
  protocol?: string;
}

/** A pod whose `claims` become `claim.hostport.rmb938.com/<port>` annotations. */
export function pod(
  name: string,
  namespace: string,
  spec: { claims?: Record<string, string>; containers: PortSpec[][]; hostNetwork?: boolean },
): unknown {
  const annotations = Object.fromEntries(
    Object.entries(spec.claims ?? {}).map((
      [port, claim],
    ) => [`${CLAIM_ANNOTATION_PREFIX}${port}`, claim]),
  );
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, annotations },
    spec: {
      ...(spec.hostNetwork ? { hostNetwork: true } : {}),
      containers: spec.containers.map((ports, i) => ({ name: `c${i}`, image: "app", ports })),
    },
  };
}

/** Port `web` (8080), with a host port when given. */
export const web = (hostPort?: number): PortSpec => ({
  name: "web",
  containerPort: 8080,
  ...(hostPort ? { hostPort } : {}),
});

/** The line kubectl prints when the pod webhook refuses a `create -f -`. */
export function refusal(podName: string, ...errors: string[]): string {
  const aggregate = errors.length === 1 ? errors[0] : `[${errors.join(", ")}]`;
  return `Error from server (Forbidden): error when creating "STDIN": admission webhook "mpod.kb.io" ` +
    `denied the request: Pod "${podName}" is invalid: ${aggregate}`;
}

/** Creates `manifest` with kubectl and fails the test unless it is admitted. */
export async function admitted(cluster: E2eCluster, manifest: unknown): Promise<void> {
  const result = await cluster.create(manifest);
  assert.equal(result.code, 0, result.stderr);
}

/** Creates `manifest` with kubectl and checks that kubectl prints exactly `expected`. */
export async function refused(
  cluster: E2eCluster,
  manifest: unknown,
  expected: string,
): Promise<void> {
  const result = await cluster.create(manifest);
  assert.notEqual(result.code, 0, result.stdout);
  assert.equal(result.stderr.trim(), expected);
}

/** The host ports of a pod's containers, space-separated. */
export function hostPorts(
  cluster: E2eCluster,
  podName: string,
  namespace = "ns1",
): Promise<string> {
  return cluster.get(`pod ${podName}`, "{.spec.containers[*].ports[*].hostPort}", namespace);
}

/** The `port.hostport.rmb938.com/<portName>` annotation of a pod. */
export function portAnnotation(
  cluster: E2eCluster,
  podName: string,
  portName: string,
  namespace = "ns1",
): Promise<string> {
  return cluster.get(
    `pod ${podName}`,
    `{.metadata.annotations.port\\.hostport\\.rmb938\\.com/${portName}}`,
    namespace,
  );
}
