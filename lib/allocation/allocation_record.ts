/**
 * `AllocationRecord`: the cluster-wide reserved-port bitmap (docs/architecture.md, rules 1, 4, 5)
 * in one ConfigMap changed only by PUT with the resourceVersion read, like the NodePort
 * allocator's `RangeAllocation`. Its `data`: `formatVersion` `"1"`; `reserved`, base64 of
 * `PortBitmap.toBytes`; `reservedCount`, for people; `writeId`, `<writer>/<sequence>` of the write
 * that produced it, so a writer whose request timed out can tell on its next read whether that
 * very write landed.
 * @module
 */

import type { ConfigMap } from "kubernetes-types/core/v1.d.ts";
import * as z from "zod";
import { backoffDelay, type BackoffOptions, sleep, SYSTEM_CLOCK } from "../kube/clock.ts";
import { errorMessage } from "../api/types.ts";
import { KubeApiError, orUndefined, type RestClient } from "../kube/rest_client.ts";
import { CONFIG_MAP_RESOURCE, ResourceClient } from "../kube/resource.ts";
import {
  InvalidPortError,
  isPort,
  PORT_BITMAP_BYTES,
  PortBitmap,
} from "../allocator/port_bitmap.ts";

/** A reservation or release certainly not committed (what may have landed settles "unknown"). */
export class AllocationRecordError extends Error {
  constructor(action: string, detail: string, options?: ErrorOptions) {
    super(`Cannot ${action} as ${detail}`, options);
    this.name = "AllocationRecordError";
  }
}

/** The record was deleted after this process saw it exist; only repair re-creates it. */
export class AllocationRecordMissingError extends AllocationRecordError {
  constructor(action: string, options?: ErrorOptions) {
    super(action, "the allocation record was deleted; repair is rebuilding it", options);
    this.name = "AllocationRecordMissingError";
  }
}

/** The record's content is not in a format this code understands; it is never overwritten. */
export class AllocationRecordFormatError extends TypeError {
  constructor(detail: string, options?: ErrorOptions) {
    super(`Cannot read the allocation record as ${detail}`, options);
    this.name = "AllocationRecordFormatError";
  }
}

/**
 * A reservation: committed, `"taken"` by someone else, or `"unknown"` (a write carrying it may
 * have landed): neither use the port nor release it; repair frees it.
 */
export type ReserveOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: "taken" | "unknown" };

/**
 * A release: committed (or not reserved), or `"unknown"`: reserved now, maybe by someone after our
 * release landed, so it is left alone; repair frees it.
 */
export type ReleaseOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: "unknown" };

/** The format version this code reads and writes. */
export const RECORD_FORMAT_VERSION = "1";

/** The default name of the record's ConfigMap (in the operator's namespace). */
export const DEFAULT_RECORD_NAME = "hostport-allocator-allocations";

/** The decoded record: the reserved ports and who wrote them. */
export interface RecordContent {
  readonly bits: PortBitmap;
  readonly writeId: string | undefined;
}

/** The record as stored, with the resourceVersion a compare-and-swap must name. */
export interface StoredRecord extends RecordContent {
  readonly resourceVersion: string;
}

const RecordData = z.object({
  formatVersion: z.string(),
  reserved: z.string(),
  writeId: z.string().optional(),
}).loose();

/** The ConfigMap `data` for `content`. */
export function encodeRecordData(content: RecordContent): Record<string, string> {
  return {
    formatVersion: RECORD_FORMAT_VERSION,
    reserved: content.bits.toBytes().toBase64(),
    reservedCount: String(content.bits.size),
    ...(content.writeId === undefined ? {} : { writeId: content.writeId }),
  };
}

/** Decodes ConfigMap `data`, untrusted. @throws {AllocationRecordFormatError} not understood */
export function decodeRecordData(data: unknown): RecordContent {
  const parsed = RecordData.safeParse(data ?? {});
  if (!parsed.success) {
    const keys = parsed.error.issues.map((issue) => issue.path.join(".")).join(", ");
    throw new AllocationRecordFormatError(`its data is malformed: ${keys || "not an object"}`);
  }
  const { formatVersion, reserved, writeId } = parsed.data;
  if (formatVersion !== RECORD_FORMAT_VERSION) {
    throw new AllocationRecordFormatError(
      `its format version is "${formatVersion}": only "${RECORD_FORMAT_VERSION}" is known`,
    );
  }
  const malformed = (detail: string) =>
    new AllocationRecordFormatError(
      `its bitmap is malformed: Cannot decode the port bitmap as ${detail}`,
    );
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.fromBase64(reserved);
  } catch {
    throw malformed("it is not base64");
  }
  if (bytes.length !== PORT_BITMAP_BYTES) {
    throw malformed(`it must be ${PORT_BITMAP_BYTES} bytes: got ${bytes.length}`);
  }
  const bits = PortBitmap.fromBytes(bytes);
  if (bits.has(0)) throw malformed("port 0 is set");
  return { bits, writeId };
}

/**
 * Compare-and-swap storage of a record (read: undefined when absent; write: a create without a
 * `resourceVersion`); throws `lib/kube` errors.
 */
export interface RecordStore {
  read(): Promise<StoredRecord | undefined>;
  write(content: RecordContent, resourceVersion?: string): Promise<StoredRecord>;
}

/**
 * How a failed write ended: `"conflict"` (changed, created or deleted: re-read and re-apply),
 * `"refused"` (403, 422, 429...), or `"unknown"` (anything else: it may have landed, even later).
 */
export function classifyWriteError(error: unknown): "conflict" | "refused" | "unknown" {
  // No answer (timeout, connection reset) or a 5xx: the server may have committed the write
  // before failing (504 is its own timeout).
  if (!(error instanceof KubeApiError) || error.code >= 500) return "unknown";
  return error.code === 404 || error.code === 409 ? "conflict" : "refused";
}

/** A {@linkcode RecordStore} over the ConfigMap {@linkcode DEFAULT_RECORD_NAME} in `namespace`. */
export class ConfigMapRecordStore implements RecordStore {
  #namespace: string;
  #configMaps: ResourceClient<ConfigMap>;

  /** A store in `options.namespace`, over `client`. */
  constructor(client: RestClient, options: { namespace: string }) {
    this.#namespace = options.namespace;
    this.#configMaps = new ResourceClient(client, CONFIG_MAP_RESOURCE);
  }

  /** A consistent GET of the ConfigMap. */
  async read(): Promise<StoredRecord | undefined> {
    const stored = await orUndefined(
      this.#configMaps.get(DEFAULT_RECORD_NAME, { namespace: this.#namespace }),
    );
    return stored && toStored(stored);
  }

  /** Creates the ConfigMap, or replaces it if it is still at `resourceVersion`. */
  async write(content: RecordContent, resourceVersion?: string): Promise<StoredRecord> {
    const configMap: ConfigMap = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: DEFAULT_RECORD_NAME,
        namespace: this.#namespace,
        labels: {
          "app.kubernetes.io/name": "hostport-allocator",
          "app.kubernetes.io/component": "allocation-record",
        },
        annotations: {
          "hostport.rmb938.com/description":
            "Ports reserved by hostport-allocator. Changed only by the operator; do not edit.",
        },
        ...(resourceVersion === undefined ? {} : { resourceVersion }),
      },
      data: encodeRecordData(content),
    };
    return toStored(
      await (resourceVersion === undefined
        ? this.#configMaps.create(configMap)
        : this.#configMaps.update(configMap)),
    );
  }
}

function toStored(configMap: ConfigMap): StoredRecord {
  const resourceVersion = configMap.metadata?.resourceVersion;
  if (!resourceVersion) throw new TypeError("Cannot use a ConfigMap without a resourceVersion");
  return { ...decodeRecordData(configMap.data), resourceVersion };
}

/** A queued reserve or release, and the `writeId`s of the writes that carried it. */
interface QueuedOp {
  readonly kind: "reserve" | "release";
  readonly port: number;
  readonly writes: string[];
  /** Whether a write that carried it ended with an unknown outcome. */
  maybeLanded: boolean;
  resolve(outcome: ReserveOutcome): void;
  reject(error: unknown): void;
}

/**
 * Applies `ops` in order to a copy of `base` (the record as last read or written): what to write
 * (`next`, `changed` when it differs), the ops settled now, and those that succeed if and only if
 * `next` commits (`carried`). A reserve of a set port settles `taken`, or `unknown` when an
 * earlier write of ours may have set it; so does a release of such a port (clearing it again
 * could free a port someone reserved since).
 */
function decideBatch(ops: readonly QueuedOp[], base: PortBitmap) {
  const next = base.clone();
  const settled: [QueuedOp, ReserveOutcome][] = [];
  const carried: QueuedOp[] = [];
  for (const op of ops) {
    const ambiguous = op.maybeLanded && base.has(op.port);
    if (next.has(op.port) && (op.kind === "reserve" || ambiguous)) {
      settled.push([op, { ok: false, reason: ambiguous ? "unknown" : "taken" }]);
      continue;
    }
    if (op.kind === "reserve") next.set(op.port);
    else next.clear(op.port);
    carried.push(op);
  }
  return { next, changed: !base.equals(next), settled, carried };
}

type Step = "done" | "retry" | "given-up";
type Reader = { resolve(): void; reject(error: unknown): void };

/** One batch while it is retried. */
interface BatchRun {
  ops: QueuedOp[];
  readers: Reader[];
  failures: number;
  conflicts: number;
  needRead: boolean;
}

/** Per batch: attempts for failures other than conflicts, and conflicts tolerated. */
const MAX_ATTEMPTS = 6;
const MAX_CONFLICTS = 100;
const BACKOFF: BackoffOptions = { initialMs: 50, maxMs: 2_000, jitter: 0.5 };
const CONFLICT_BACKOFF: BackoffOptions = { initialMs: 2, maxMs: 100, jitter: 1 };

/**
 * The reserved-port bitmap shared by every operator process, arbitrated by the API server.
 *
 * - Every change is a compare-and-swap (a create when missing, re-reading on AlreadyExists): of
 *   two processes reserving one port at most one gets `{ ok: true }`.
 * - Group commit: calls arriving while a write is in flight go into the next write; after a
 *   conflict every pending call is re-applied to a fresh read. A call settles when the write
 *   carrying it commits.
 * - Unknown outcome = maybe committed (timeout, connection error, 5xx): such a call settles
 *   `"unknown"`, never failed nor done, unless a later read shows our write landed (`writeId`).
 * - Only certainly-uncommitted calls reject (`AllocationRecordError`), after bounded retries. A
 *   record this code cannot read is never overwritten, and one deleted while in use is never
 *   re-created empty: calls reject with `AllocationRecordMissingError` until repair's `recreate`.
 *
 * Assumes a release is requested only by the owner of the reservation (rule 3).
 */
export class AllocationRecord {
  /** undefined: never read; null: known not to exist (never again once it existed). */
  #known: StoredRecord | null | undefined;
  /** Whether the last read found the record deleted after this process had seen it exist. */
  #missing = false;
  #store: RecordStore;
  /** This process's name in `writeId`. */
  #writerId = crypto.randomUUID().slice(0, 8);
  #sleep: (ms: number) => Promise<void>;
  #last = new PortBitmap();
  #version = 0;
  /** Port to the `version` at which this process last saw it released. */
  #releasedAt = new Map<number, number>();
  #sequence = 0;
  /** Whether the next batch must read first (a batch gave up, maybe after an unknown write). */
  #stale = false;
  #queue: QueuedOp[] = [];
  #readers: Reader[] = [];
  #draining = false;
  #idle: (() => void)[] = [];

  /** Creates a record over `store` (`sleep`: the backoff waits, for tests); reads nothing yet. */
  constructor(store: RecordStore, options: { sleep?: (ms: number) => Promise<void> } = {}) {
    this.#store = store;
    this.#sleep = options.sleep ?? ((ms) => sleep(SYSTEM_CLOCK, ms));
  }

  /** Reserves `port`. @throws {RangeError} not a port; {AllocationRecordError} (rejection) */
  reserve(port: number): Promise<ReserveOutcome> {
    return this.#enqueue("reserve", port);
  }

  /** Releases `port`, owned (rule 3); idempotent. @throws as {@linkcode AllocationRecord.reserve} */
  release(port: number): Promise<ReleaseOutcome> {
    return this.#enqueue("release", port) as Promise<ReleaseOutcome>;
  }

  /**
   * Reads the record now, ordered with this process's writes (missing reads as empty), and
   * returns {@linkcode AllocationRecord.reserved}.
   *
   * @throws {AllocationRecordError} or {AllocationRecordFormatError} (rejection)
   */
  async refresh(): Promise<PortBitmap> {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#readers.push({ resolve, reject });
    this.#kick();
    await promise;
    return this.reserved();
  }

  /** Whether the last read found the record deleted after this process had seen it exist. */
  get missing(): boolean {
    return this.#missing;
  }

  /** The reserved ports as last read or committed (a copy; empty before the first read). */
  reserved(): PortBitmap {
    return this.#last.clone();
  }

  /** Whether `port` is reserved in the record as last read or committed. */
  has(port: number): boolean {
    return isPort(port) && this.#last.has(port);
  }

  /** Counts the changes this process saw (commits, reads): users pull; it never calls them back. */
  get version(): number {
    return this.#version;
  }

  /** Ports this process saw released in the record after `version`, ascending. */
  releasedSince(version: number): number[] {
    return [...this.#releasedAt].filter(([, at]) => at > version).map(([port]) => port)
      .sort((a, b) => a - b);
  }

  /**
   * Re-creates the record deleted while in use, reserving `ports`. Runs alone (no queued call joins
   * the creation); resolves false, merging nothing, when someone else re-created it first.
   *
   * @throws {AllocationRecordError} (rejection) the create certainly failed; retry later
   */
  async recreate(ports: Iterable<number>): Promise<boolean> {
    const bits = PortBitmap.of(ports);
    while (this.#draining) await new Promise<void>((resolve) => this.#idle.push(resolve));
    this.#draining = true;
    try {
      this.#stored(await this.#store.write({ bits, writeId: this.#nextWriteId() }));
      this.#missing = false;
      this.#stale = false;
      return true;
    } catch (error) {
      this.#stale = true;
      if (classifyWriteError(error) === "conflict") return false;
      throw new AllocationRecordError("re-create the allocation record", errorMessage(error), {
        cause: error,
      });
    } finally {
      this.#drained();
      if (this.#queue.length > 0 || this.#readers.length > 0) this.#kick();
    }
  }

  #nextWriteId(): string {
    return `${this.#writerId}/${++this.#sequence}`;
  }

  /** Adopts a record this process just wrote (or read, when `record` is null: known absent). */
  #stored(record: StoredRecord | null): void {
    this.#known = record;
    const next = record?.bits.clone() ?? new PortBitmap();
    if (next.equals(this.#last)) return;
    this.#version++;
    for (const port of this.#last.toArray()) {
      if (!next.has(port)) this.#releasedAt.set(port, this.#version);
    }
    this.#last = next;
  }

  #enqueue(kind: "reserve" | "release", port: number): Promise<ReserveOutcome> {
    if (!isPort(port)) throw new InvalidPortError(port);
    const { promise, resolve, reject } = Promise.withResolvers<ReserveOutcome>();
    this.#queue.push({ kind, port, writes: [], maybeLanded: false, resolve, reject });
    this.#kick();
    return promise;
  }

  #kick(): void {
    if (this.#draining) return;
    this.#draining = true;
    // A microtask, so every call made in the same synchronous run joins the first write.
    queueMicrotask(async () => {
      try {
        while (this.#queue.length > 0 || this.#readers.length > 0) await this.#runBatch();
      } finally {
        this.#drained();
      }
    });
  }

  #drained(): void {
    this.#draining = false;
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  async #runBatch(): Promise<void> {
    const run: BatchRun = {
      ops: [],
      readers: [],
      failures: 0,
      conflicts: 0,
      needRead: this.#known === undefined || this.#stale,
    };
    while (true) {
      // Newcomers join the batch at every attempt, so a retry after a conflict carries them too.
      run.ops.push(...this.#queue.splice(0));
      if (this.#readers.length > 0) run.needRead = true;
      run.readers.push(...this.#readers.splice(0));
      if (run.needRead) {
        const step = await this.#read(run);
        if (step === "given-up") return;
        if (step === "retry") continue;
      }
      if (run.ops.length === 0 || await this.#write(run) !== "retry") return;
    }
  }

  async #read(run: BatchRun): Promise<Step> {
    let fresh: StoredRecord | undefined;
    try {
      fresh = await this.#store.read();
    } catch (error) {
      const fatal = error instanceof AllocationRecordFormatError;
      return await this.#failed(run, error, fatal, "read the allocation record");
    }
    if (fresh === undefined && this.#known) {
      // Starting afresh would forget every reservation: refuse; the repair pass rebuilds it
      // (`recreate`) from every port anyone may hold, and allocation pauses meanwhile.
      this.#missing = true;
      const error = new AllocationRecordMissingError("use the allocation record");
      return await this.#failed(run, error, true, "read the allocation record");
    }
    this.#missing = false;
    run.needRead = false;
    this.#stale = false;
    this.#stored(fresh ?? null);
    for (const reader of run.readers.splice(0)) reader.resolve();
    // The record names its last write: if it is one of ours, every op that write carried landed.
    const landed = (op: QueuedOp) =>
      fresh?.writeId !== undefined && op.writes.includes(fresh.writeId);
    for (const op of run.ops.filter(landed)) op.resolve({ ok: true });
    run.ops = run.ops.filter((op) => !landed(op));
    return "done";
  }

  async #write(run: BatchRun): Promise<Step> {
    const known = this.#known ?? null;
    const decision = decideBatch(run.ops, known?.bits ?? new PortBitmap());
    for (const [op, outcome] of decision.settled) op.resolve(outcome);
    run.ops = decision.carried;
    if (decision.changed) {
      const writeId = this.#nextWriteId();
      for (const op of run.ops) op.writes.push(writeId);
      const content = { bits: decision.next, writeId };
      try {
        this.#stored(await this.#store.write(content, known?.resourceVersion));
      } catch (error) {
        return await this.#writeFailed(run, error);
      }
    }
    for (const op of run.ops.splice(0)) op.resolve({ ok: true });
    return "done";
  }

  async #writeFailed(run: BatchRun, error: unknown): Promise<Step> {
    run.needRead = true;
    const failure = classifyWriteError(error);
    if (failure === "conflict") {
      if (++run.conflicts > MAX_CONFLICTS) {
        this.#giveUp(run, error, `it changed under ${MAX_CONFLICTS} writes in a row`);
        return "given-up";
      }
      await this.#sleep(backoffDelay(run.conflicts - 1, CONFLICT_BACKOFF));
      return "retry";
    }
    if (failure === "unknown") { for (const op of run.ops) op.maybeLanded = true; }
    return await this.#failed(run, error, false, "write the allocation record");
  }

  /** Counts a failure, then backs off ("retry") or gives the batch up. */
  async #failed(run: BatchRun, error: unknown, fatal: boolean, what: string): Promise<Step> {
    if (fatal || ++run.failures >= MAX_ATTEMPTS) {
      this.#giveUp(run, error, `the last attempt to ${what} failed: ${errorMessage(error)}`);
      return "given-up";
    }
    await this.#sleep(backoffDelay(run.failures - 1, BACKOFF));
    return "retry";
  }

  #giveUp(run: BatchRun, cause: unknown, detail: string): void {
    this.#stale = true;
    for (const op of run.ops.splice(0)) {
      // Never report failed what may have landed: that settles as "unknown" instead.
      if (op.maybeLanded) op.resolve({ ok: false, reason: "unknown" });
      else op.reject(new AllocationRecordError(`${op.kind} port ${op.port}`, detail, { cause }));
    }
    for (const reader of run.readers.splice(0)) {
      reader.reject(
        cause instanceof AllocationRecordFormatError
          ? cause
          : new AllocationRecordError("read the allocation record", detail, { cause }),
      );
    }
  }
}
