/**
 * Runs the controllers in-process against a real control plane, with the in-memory Logger,
 * EventRecorder and MetricsRegistry of `controller_ops_fakes.ts`, plus helpers the scenario
 * tests share (object builders, bounded polling).
 *
 * @module
 */
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import {
  AllocationRecord,
  ConfigMapRecordStore,
  DEFAULT_RECORD_NAME,
  RecordAnchor,
} from "../lib/allocation/mod.ts";
import {
  API_VERSION,
  type HostPort,
  type HostPortClaim,
  type HostPortClass,
  POD_LABEL_KEY,
  POD_LABEL_VALUE,
} from "../lib/api/mod.ts";
import { type ControllersOptions, startControllers } from "../lib/controller/start_controllers.ts";
import { startSharedCaches } from "../lib/controller/context.ts";
import {
  createKubeClients,
  type KubeClients,
  KubeRestClient,
  loadClusterConfig,
  NotFoundError,
} from "../lib/kube/mod.ts";
import { memoryLogger, MemoryMetrics, MemoryRecorder } from "./controller_ops_fakes.ts";
import { CountingRecordStore } from "./fake_record_store.ts";
import type { ControlPlane } from "./controlplane/harness.ts";
import { namespaces } from "./core_clients.ts";

/** The controllers running in-process, and what they recorded. */
export interface RunningOperator extends AsyncDisposable {
  /** Events recorded. */
  readonly recorder: MemoryRecorder;
  /** Metrics recorded. */
  readonly metrics: MemoryMetrics;
  /** Log lines. */
  readonly logs: string[];
  /** The writes that reached the allocation record (sent, committed, refused by a conflict). */
  readonly recordWrites: CountingRecordStore;
  /** The ports the allocation record reserves, read live. */
  reservedPorts(): Promise<number[]>;
  /** The "allocation" readiness check: true, or why allocation cannot proceed. */
  allocationReadiness(): true | string;
  /** Stops the controllers and closes the client. */
  stop(): Promise<void>;
}

/** The operator's namespace in the tests (holds the allocation record). */
export const OPERATOR_NAMESPACE = "hostport-system";

/** Opens an admin client to the control plane. */
export async function adminClients(cp: ControlPlane): Promise<KubeClients & Disposable> {
  const rest = new KubeRestClient(await loadClusterConfig({ kubeconfig: cp.kubeconfigPath }));
  return Object.assign(createKubeClients(rest), { [Symbol.dispose]: () => rest.close() });
}

/**
 * The deletion window of the in-process controllers unless a test sets one: no test here has a
 * slow admission chain, so a short window keeps tests that delete claims quick.
 */
export const TEST_CLAIM_DELETION_GRACE_MS = 1_000;

/**
 * Starts the controllers against `cp`, with their own shared caches, as `mod.ts` starts them on
 * the leader, and waits until they are synced.
 */
export async function startOperator(
  cp: ControlPlane,
  options: ControllersOptions = {},
): Promise<RunningOperator> {
  options = { claimDeletionGraceMs: TEST_CLAIM_DELETION_GRACE_MS, ...options };
  const rest = new KubeRestClient(await loadClusterConfig({ kubeconfig: cp.kubeconfigPath }));
  await ensureNamespace(createKubeClients(rest), OPERATOR_NAMESPACE);
  const store = new ConfigMapRecordStore(rest, { namespace: OPERATOR_NAMESPACE });
  const record = { namespace: OPERATOR_NAMESPACE, name: DEFAULT_RECORD_NAME };
  const anchored = await new RecordAnchor(rest, record).check(); // one record per cluster
  if (anchored !== true) throw new Error(anchored.reason);
  const counted = new CountingRecordStore(store);
  const recorder = new MemoryRecorder();
  const metrics = new MemoryMetrics();
  const logs: string[] = [];
  const logger = memoryLogger(logs);
  const shared = startSharedCaches(rest, { logger, recorder, metrics });
  const running = startControllers({
    rest,
    record: new AllocationRecord(counted),
    recorder,
    metrics,
    logger,
    caches: shared,
    options,
  });
  await running.synced;
  const stop = async () => {
    const stopped = await Promise.race([
      running.stop().then(() => shared.stop()).then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 10_000)),
    ]);
    if (!stopped) throw new Error("Controllers did not stop within 10 s");
    rest.close();
  };

  return {
    recorder,
    metrics,
    logs,
    recordWrites: counted,
    reservedPorts: async () => {
      const stored = await store.read();
      return stored === undefined ? [] : stored.bits.toArray();
    },
    allocationReadiness: () => running.allocationReadiness(),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Creates a namespace unless it exists. */
export async function ensureNamespace(kube: KubeClients, name: string): Promise<void> {
  try {
    await namespaces(kube).get(name);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    await namespaces(kube).create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
  }
}

/**
 * Polls `probe` every `intervalMs` (100 ms) until it returns a value other than undefined; a
 * throw counts as "not yet". The one way tests wait for a condition.
 *
 * @param timeoutMs the bound; 60 s by default, generous for a loaded 2-core machine
 * @throws {Error} naming `what` and the last error seen when `timeoutMs` passes first
 */
export async function eventually<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 60_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (true) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? `; last error: ${last.message}` : "";
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Resolves once `get` throws NotFound. */
export async function eventuallyGone(what: string, get: () => Promise<unknown>): Promise<void> {
  await eventually(`${what} to be gone`, async () => {
    try {
      await get();
      return undefined;
    } catch (error) {
      if (error instanceof NotFoundError) return true;
      throw error;
    }
  });
}

/** A class object. */
export function classObject(name: string, pools: [number, number][]): HostPortClass {
  return {
    apiVersion: API_VERSION,
    kind: "HostPortClass",
    metadata: { name },
    spec: { pools: pools.map(([start, end]) => ({ start, end })) },
  };
}

/** A claim object (no finalizer and `hostPortName` unset, as if no webhook ran). */
export function claimObject(
  namespace: string,
  name: string,
  className: string,
  hostPortName?: string,
): HostPortClaim {
  return {
    apiVersion: API_VERSION,
    kind: "HostPortClaim",
    metadata: { name, namespace },
    spec: {
      hostPortClassName: className,
      ...(hostPortName === undefined ? {} : { hostPortName }),
    },
  };
}

/** A HostPort object made by hand (no claimRef). */
export function hostPortObject(name: string, className: string): HostPort {
  return {
    apiVersion: API_VERSION,
    kind: "HostPort",
    metadata: { name },
    spec: { hostPortClassName: className },
  };
}

/**
 * A pod that names `claim` for port `web`, labelled as the pod webhook labels the pods it gives
 * a port (the operator watches only those).
 */
export function podObject(namespace: string, name: string, claim: string): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace,
      labels: { [POD_LABEL_KEY]: POD_LABEL_VALUE },
      annotations: { "claim.hostport.rmb938.com/web": claim },
    },
    spec: {
      containers: [{ name: "c", image: "busybox", ports: [{ name: "web", containerPort: 8080 }] }],
    },
  };
}

/** Waits for the claim to be Bound and returns it with its HostPort. */
export async function boundClaim(
  kube: KubeClients,
  namespace: string,
  name: string,
): Promise<{ claim: HostPortClaim; hostPort: HostPort }> {
  return await eventually(`claim ${namespace}/${name} to be Bound`, async () => {
    const claim = await kube.hostPortClaims.get(name, { namespace });
    if (claim.status?.phase !== "Bound" || !claim.spec.hostPortName) return undefined;
    const hostPort = await kube.hostPorts.get(claim.spec.hostPortName);
    return { claim, hostPort };
  });
}
