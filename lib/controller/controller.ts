/**
 * The generic controller loop: keys from a `WorkQueue`, a fixed number of workers (a key is never
 * reconciled concurrently with itself), outcomes as values, per-key exponential backoff on errors,
 * quiet retries on write conflicts, a slow resync of every key; and the controller metrics.
 *
 * @module
 */
import type { Clock, TimerHandle } from "../kube/clock.ts";
import { ConflictError } from "../kube/rest_client.ts";
import { WorkQueue } from "../kube/work_queue.ts";
import type { Logger, MetricsRegistry } from "../ops/contracts.ts";
import type { Outcome } from "../reconcile/outcome.ts";

/** Reconciles one key; throws to be retried with backoff. */
export type ReconcileFunction = (key: string, signal: AbortSignal) => Promise<Outcome>;

/** Options of {@linkcode Controller}. */
export interface ControllerOptions {
  /** Name in logs and metrics, for example `hostport`. */
  readonly name: string;
  readonly reconcile: ReconcileFunction;
  /** How many keys are reconciled at once (at least 1). */
  readonly workers: number;
  /** Every key the controller owns, for the resync. */
  readonly listKeys: () => readonly string[];
  /** How often every key is queued again; 0 turns the resync off. */
  readonly resyncIntervalMs: number;
  readonly metrics: ControllerMetrics;
  /** Logger; the controller adds `{ controller: name }`. */
  readonly logger: Logger;
  readonly clock: Clock;
}

/** One controller: a queue of keys and the workers that reconcile them. */
export class Controller {
  #options: ControllerOptions;
  #queue: WorkQueue<string>;
  #logger: Logger;
  #abort = new AbortController();
  #workers: Promise<void>[] = [];
  #resyncTimer: TimerHandle | undefined;
  #active = 0;

  /** Creates a stopped controller; call `start()`. */
  constructor(options: ControllerOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ controller: options.name });
    this.#queue = new WorkQueue<string>({ clock: options.clock });
  }

  /** Queues `key` now (deduplicated); `urgent` puts it ahead of keys queued without it. */
  enqueue(key: string, options: { urgent?: boolean } = {}): void {
    this.#queue.add(key, options);
    this.#reportDepth();
  }

  /** Queues `key` after `ms` milliseconds. */
  enqueueAfter(key: string, ms: number): void {
    this.#queue.addAfter(key, ms);
  }

  /** Starts the workers and the resync timer (idempotent). */
  start(): void {
    if (this.#workers.length > 0 || this.#abort.signal.aborted) return;
    const workers = Math.max(1, Math.floor(this.#options.workers));
    for (let i = 0; i < workers; i++) this.#workers.push(this.#work());
    this.#scheduleResync();
    this.#logger.info("Controller started", { workers });
  }

  /** Stops: no new keys are taken, in-flight requests are aborted, and workers are awaited. */
  async stop(): Promise<void> {
    this.#abort.abort(new Error(`Controller "${this.#options.name}" stopped`));
    this.#options.clock.clearTimeout(this.#resyncTimer);
    this.#queue.shutdown();
    await Promise.all(this.#workers);
  }

  async #work(): Promise<void> {
    while (true) {
      const key = await this.#queue.get();
      if (key === undefined) return;
      this.#reportDepth();
      try {
        await this.#reconcileOne(key);
      } finally {
        this.#queue.done(key);
        this.#reportDepth();
      }
    }
  }

  async #reconcileOne(key: string): Promise<void> {
    const { metrics, name } = this.#options;
    const started = performance.now();
    metrics.activeWorkers.set({ controller: name }, ++this.#active);
    let result = "success";
    try {
      const outcome = await this.#options.reconcile(key, this.#abort.signal);
      this.#queue.forget(key);
      if (outcome.type === "requeueAfter") {
        this.#queue.addAfter(key, outcome.ms);
        result = "requeue_after";
      } else if (outcome.type === "awaitChange") {
        this.#logger.debug("Waiting for a change", { key, reason: outcome.reason });
      }
    } catch (error) {
      result = this.#handleError(key, error);
    } finally {
      metrics.activeWorkers.set({ controller: name }, --this.#active);
    }
    metrics.reconcileTotal.inc({ controller: name, result });
    metrics.reconcileTime.observe({ controller: name }, (performance.now() - started) / 1000);
  }

  #handleError(key: string, error: unknown): string {
    if (this.#abort.signal.aborted) return "error";
    const retries = this.#queue.addRateLimited(key);
    if (error instanceof ConflictError) {
      // The cache was behind a write; the newer object's event (or the retry) settles it.
      this.#logger.debug("Write conflict, retrying", { key, error: describe(error) });
      return "conflict";
    }
    this.#options.metrics.reconcileErrors.inc({ controller: this.#options.name });
    this.#logger.error("Reconciler error", { key, error: describe(error), retries });
    return "error";
  }

  #scheduleResync(): void {
    const interval = this.#options.resyncIntervalMs;
    if (!(interval > 0) || this.#abort.signal.aborted) return;
    // Up to 10% jitter, so controllers started together do not resync together.
    const delay = Math.round(interval * (1 + 0.1 * Math.random()));
    this.#resyncTimer = this.#options.clock.setTimeout(() => {
      for (const key of this.#options.listKeys()) this.#queue.add(key);
      this.#reportDepth();
      this.#scheduleResync();
    }, delay);
  }

  #reportDepth(): void {
    this.#options.metrics.queueDepth.set({ name: this.#options.name }, this.#queue.length);
  }
}

/** A one-line description of an error for logs. */
export function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Latency buckets of one reconcile, in seconds. */
const RECONCILE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The metrics of every controller: the runtime's (named as controller-runtime's) and `hostport_*`. */
export type ControllerMetrics = ReturnType<typeof metricsIn>;

/** Creates (or fetches) every controller metric in `registry`. */
export function createControllerMetrics(registry: MetricsRegistry): ControllerMetrics {
  return metricsIn(registry);
}

function metricsIn(registry: MetricsRegistry) {
  return {
    reconcileTotal: registry.counter(
      "controller_runtime_reconcile_total",
      "Total number of reconciliations per controller",
      ["controller", "result"],
    ),
    reconcileErrors: registry.counter(
      "controller_runtime_reconcile_errors_total",
      "Total number of reconciliation errors per controller",
      ["controller"],
    ),
    reconcileTime: registry.histogram(
      "controller_runtime_reconcile_time_seconds",
      "Length of time per reconciliation per controller",
      ["controller"],
      RECONCILE_BUCKETS,
    ),
    queueDepth: registry.gauge("workqueue_depth", "Current depth of workqueue", ["name"]),
    activeWorkers: registry.gauge(
      "controller_runtime_active_workers",
      "Number of currently used workers per controller",
      ["controller"],
    ),
    classCapacity: registry.gauge(
      "hostport_class_capacity_ports",
      "Number of distinct ports in the pools of a HostPortClass",
      ["class"],
    ),
    classAllocated: registry.gauge(
      "hostport_class_allocated_ports",
      "Number of ports of a HostPortClass's pools held by a HostPort of any class",
      ["class"],
    ),
    classFree: registry.gauge(
      "hostport_class_free_ports",
      "Number of ports of a HostPortClass's pools free to allocate",
      ["class"],
    ),
    allocations: registry.counter("hostport_allocations_total", "Ports allocated to HostPorts", [
      "class",
    ]),
    allocationFailures: registry.counter(
      "hostport_allocation_failures_total",
      "Allocations that failed, by reason (exhausted or error)",
      ["class", "reason"],
    ),
    releases: registry.counter(
      "hostport_releases_total",
      "Ports released after their HostPort was finalized",
    ),
    repairFindings: registry.counter(
      "hostport_repair_findings_total",
      "Problems found by repair passes, by finding",
      ["finding"],
    ),
    repairRuns: registry.counter(
      "hostport_repair_runs_total",
      "Repair passes, by result (success or error)",
      ["result"],
    ),
    repairLeakCandidates: registry.gauge(
      "hostport_repair_leak_candidates",
      "Reserved ports held by no HostPort, watched before they are freed",
    ),
    undecodableObjects: registry.gauge(
      "hostport_allocator_undecodable_objects",
      "Objects the operator ignores because they do not match its schema, by kind",
      ["kind"],
    ),
    quotaUsed: registry.gauge(
      "hostport_quota_used_claims",
      "Claims of a HostPortClass in a namespace, per ResourceQuota with a per-class limit",
      ["namespace", "quota", "class"],
    ),
    quotaHard: registry.gauge(
      "hostport_quota_hard_claims",
      "The per-class claim limit of a ResourceQuota",
      ["namespace", "quota", "class"],
    ),
    quotaExceeded: registry.counter(
      "hostport_quota_exceeded_total",
      "Claims the controller held back (Pending, QuotaExceeded) because a quota was full",
      ["namespace", "class"],
    ),
  };
}
