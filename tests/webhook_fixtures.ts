/**
 * Builders shared by the admission server tests: an in-process PKI, HostPortClaims and HostPorts
 * in the states pod admission cares about, lookups over real `Store` caches, AdmissionReviews.
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
import type {
  MutatingWebhookConfiguration,
  ValidatingWebhookConfiguration,
} from "kubernetes-types/admissionregistration/v1.d.ts";
import { Store } from "../lib/kube/mod.ts";
import type { PrometheusRegistry } from "../lib/ops/metrics_registry.ts";
import type { AdmissionLookups } from "../webhook/lookups.ts";
import { generateCa, generateServingCert, type PemPair } from "../webhook/tls_certs.ts";
import { FileCertificateSource, inspectPair, PairSource } from "../webhook/tls_source.ts";

/** A certificate source holding a pair given in memory. */
export class StaticCertificateSource extends PairSource {
  /** @throws {TypeError} when the certificate and key do not parse or do not belong together */
  constructor(certPem: string, keyPem: string) {
    super(0);
    const inspected = inspectPair(certPem, keyPem);
    if (!inspected.ok) {
      throw new TypeError(`Cannot use the serving certificate: ${inspected.reason}`);
    }
    this.setPair(inspected.pair);
  }

  /** Nothing to load: resolves at once. */
  override start(_signal: AbortSignal): Promise<void> {
    return Promise.resolve();
  }

  /** Never called: `start` runs no loop. */
  protected refresh(): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  protected startError(): string {
    return "";
  }
}

/**
 * A FileCertificateSource a test can wait on: for a condition to hold after a reload, and, once
 * stopped, for the reload under way (if any) to end, so no file is read after the test.
 */
export class ObservedFileSource extends FileCertificateSource {
  #last: Promise<unknown> = Promise.resolve();
  #waiters = new Set<() => void>();

  protected override refresh(): Promise<number | undefined> {
    const refresh = super.refresh();
    this.#last = refresh;
    return refresh.finally(() => this.#waiters.forEach((check) => check()));
  }

  /** Resolves after the first reload, from now, that leaves `condition` true. */
  reloadedUntil(condition: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (!condition()) return;
        this.#waiters.delete(check);
        resolve();
      };
      this.#waiters.add(check);
    });
  }

  /** Aborts `stop` (the start signal's) and resolves once no reload runs. */
  async stop(stop: AbortController): Promise<void> {
    stop.abort();
    await this.#last;
  }
}

/** A CA and a serving certificate for 127.0.0.1 and localhost. */
export interface TestPki {
  /** The CA (trust `ca.certPem` in clients). */
  ca: PemPair;
  /** The serving certificate signed by `ca`. */
  serving: PemPair;
}

/** Makes a CA and a serving certificate for `127.0.0.1` / `localhost`, valid for a day. */
export async function testPki(commonName = "webhook-test-ca"): Promise<TestPki> {
  const validity = { now: new Date(), validityMs: 86_400_000, backdateMs: 60_000 };
  const ca = await generateCa(commonName, validity);
  const serving = await issueServing(ca);
  return { ca, serving };
}

/** Issues another serving certificate for `127.0.0.1` / `localhost` from `ca`. */
export function issueServing(ca: PemPair): Promise<PemPair> {
  const validity = { now: new Date(), validityMs: 86_400_000, backdateMs: 60_000 };
  return generateServingCert(ca, { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] }, validity);
}

/** A claim `namespace/name` bound to `hpc-<name>` (or in `phase`), with the finalizer. */
export function boundClaim(
  namespace: string,
  name: string,
  phase: keyof typeof CLAIM_PHASE = "Bound",
): HostPortClaim {
  return {
    apiVersion: API_VERSION,
    kind: KIND.HostPortClaim,
    metadata: { name, namespace, uid: `uid-${name}`, finalizers: [FINALIZER] },
    spec: { hostPortClassName: "c1", hostPortName: `hpc-${name}` },
    status: { phase: CLAIM_PHASE[phase] },
  };
}

/** HostPort `name` of class c1, Allocated with `port` (or Pending when `port` is 0). */
export function allocatedHostPort(name: string, port: number): HostPort {
  return {
    apiVersion: API_VERSION,
    kind: KIND.HostPort,
    metadata: { name, finalizers: [FINALIZER] },
    spec: { hostPortClassName: "c1" },
    status: port > 0
      ? { phase: HOST_PORT_PHASE.Allocated, port }
      : { phase: HOST_PORT_PHASE.Pending },
  };
}

/** Lookups over `Store` caches holding the given objects (no live fallback). */
export function memoryLookups(
  claims: readonly HostPortClaim[],
  hostPorts: readonly HostPort[],
  classes: readonly HostPortClass[] = [],
): AdmissionLookups {
  const claimStore = new Store<HostPortClaim>();
  const hostPortStore = new Store<HostPort>();
  const classStore = new Store<HostPortClass>();
  for (const object of claims) claimStore.apply({ type: "apply", object });
  for (const object of hostPorts) hostPortStore.apply({ type: "apply", object });
  for (const object of classes) classStore.apply({ type: "apply", object });
  return {
    getClaim: (namespace, name) => Promise.resolve(claimStore.getByName(name, namespace)),
    getHostPort: (name) => Promise.resolve(hostPortStore.getByName(name)),
    listHostPortClasses: () => Promise.resolve(classStore.list()),
  };
}

/** A pod in `namespace` whose port `web` (8080) names claim `claimName`. */
export function webPod(namespace: string, name: string, claimName: string): unknown {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace,
      annotations: { "claim.hostport.rmb938.com/web": claimName },
    },
    spec: {
      containers: [{ name: "app", image: "app", ports: [{ name: "web", containerPort: 8080 }] }],
    },
  };
}

/** An AdmissionReview v1 request to create `pod` in `namespace`. */
export function podReview(uid: string, namespace: string, pod: unknown): unknown {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid,
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      namespace,
      operation: "CREATE",
      userInfo: { username: "tester" },
      object: pod,
    },
  };
}

/** Decodes the base64 JSON Patch of an admission response. */
export function decodePatch(
  patch: string | undefined,
): { op: string; path: string; value?: unknown }[] {
  return patch === undefined ? [] : JSON.parse(atob(patch));
}

/** Names of the test webhook configurations. */
export const TEST_CONFIGURATIONS = {
  mutating: "hostport-test-mutating",
  validating: "hostport-test-validating",
};

const CR_RULE = (resources: string) => ({
  apiGroups: ["hostport.rmb938.com"],
  apiVersions: ["v1alpha1"],
  operations: ["CREATE", "UPDATE"],
  resources: [resources],
});

/**
 * The seven webhooks of the original (seed 3.1), calling `https://127.0.0.1:<port>/<path>` and
 * trusting `caBundle` (base64; may be empty for injection to fill in). The pod webhook only
 * sees namespaces labelled `hostport.rmb938.com: "true"`.
 */
export function webhookConfigurations(
  port: number,
  caBundle: string,
): { mutating: MutatingWebhookConfiguration; validating: ValidatingWebhookConfiguration } {
  const clientConfig = (path: string) => ({
    url: `https://127.0.0.1:${port}${path}`,
    ...(caBundle === "" ? {} : { caBundle }),
  });
  const common = {
    failurePolicy: "Fail",
    sideEffects: "None",
    admissionReviewVersions: ["v1"],
    timeoutSeconds: 10,
  };
  const kinds = [["hostport", "hostports"], ["hostportclaim", "hostportclaims"], [
    "hostportclass",
    "hostportclasses",
  ]] as const;
  const crWebhooks = (verb: "mutate" | "validate") =>
    kinds.map(([kind, resources]) => ({
      name: `${verb[0]}${kind}.kb.io`,
      clientConfig: clientConfig(`/${verb}-hostport-rmb938-com-v1alpha1-${kind}`),
      rules: [CR_RULE(resources)],
      ...common,
    }));
  const mutating = {
    apiVersion: "admissionregistration.k8s.io/v1" as const,
    kind: "MutatingWebhookConfiguration" as const,
    metadata: { name: TEST_CONFIGURATIONS.mutating },
    webhooks: [...crWebhooks("mutate"), {
      name: "mpod.kb.io",
      clientConfig: clientConfig("/mutate-v1-pod"),
      rules: [{
        apiGroups: [""],
        apiVersions: ["v1"],
        operations: ["CREATE", "UPDATE"],
        resources: ["pods"],
      }],
      namespaceSelector: { matchLabels: { "hostport.rmb938.com": "true" } },
      ...common,
    }],
  };
  const validating = {
    apiVersion: "admissionregistration.k8s.io/v1" as const,
    kind: "ValidatingWebhookConfiguration" as const,
    metadata: { name: TEST_CONFIGURATIONS.validating },
    webhooks: crWebhooks("validate"),
  };
  return { mutating, validating };
}

/**
 * The sum of the samples of metric `name` on `/metrics` (the registry's exposition) whose labels
 * include `labels`; 0 when there is none.
 */
export async function metricValue(
  metrics: PrometheusRegistry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  let sum = 0;
  for (const line of (await metrics.expose()).split("\n")) {
    const sample = line.match(/^([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)$/);
    if (sample?.[1] !== name) continue;
    const have = new Map(
      [...(sample[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([key, value]) => have.get(key) === value)) {
      sum += Number(sample[3]);
    }
  }
  return sum;
}
