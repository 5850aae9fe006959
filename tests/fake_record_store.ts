/**
 * A tiny in-memory compare-and-swap store for the pure tests of lib/allocation: resourceVersions,
 * real 409s on stale writes, and scripted failures (including writes that land and then report
 * an error, as a timeout after commit does). Test support only.
 *
 * @module
 */

import type { Status } from "kubernetes-types/meta/v1.d.ts";
import {
  AlreadyExistsError,
  ConflictError,
  KubeRequestTimeoutError,
  NotFoundError,
} from "../lib/kube/mod.ts";
import { PortBitmap } from "../lib/allocator/mod.ts";
import {
  classifyWriteError,
  type RecordContent,
  type RecordStore,
  type StoredRecord,
} from "../lib/allocation/allocation_record.ts";

/** A scripted failure for the next matching call. */
export interface ScriptedFailure {
  /** Which call fails. */
  on: "read" | "write";
  /** What it throws. */
  error: unknown;
  /** For writes: apply the write first, then throw (the outcome the caller sees is unknown). */
  land?: boolean;
  /** Runs after the write was applied (or not), right before the error is thrown. */
  then?: () => void;
}

/** A 409 Conflict as the API server reports it. */
export function conflictError(): ConflictError {
  return new ConflictError(status(409, "Conflict"));
}

/** A client-side timeout. */
export function timeoutError(): KubeRequestTimeoutError {
  return new KubeRequestTimeoutError({ method: "PUT", path: "/fake" }, 1);
}

function status(code: number, reason: string): Status {
  return { apiVersion: "v1", kind: "Status", status: "Failure", code, reason, message: reason };
}

/** See the module documentation. */
export class FakeRecordStore implements RecordStore {
  /** Failures consumed in order by matching calls. */
  readonly script: ScriptedFailure[] = [];
  /** Every write that reached the store (landed or not), in order. */
  readonly writes: RecordContent[] = [];
  /** Resolved before each write is handled; replace it to hold writes in flight. */
  writeGate: Promise<void> = Promise.resolve();
  #stored: StoredRecord | undefined;
  #version = 0;

  /** The ports stored now, ascending (empty when the record does not exist). */
  ports(): number[] {
    return this.#stored ? this.#stored.bits.toArray() : [];
  }

  /** The stored record, if any. */
  get stored(): StoredRecord | undefined {
    return this.#stored;
  }

  /** Another writer replaces the content (bumping the version). */
  set(ports: Iterable<number>, writeId = "other/1"): void {
    this.#stored = {
      bits: PortBitmap.of(ports),
      writeId,
      resourceVersion: String(++this.#version),
    };
  }

  /** Another writer deletes the record. */
  delete(): void {
    this.#stored = undefined;
  }

  /** See {@linkcode RecordStore.read}. */
  read(): Promise<StoredRecord | undefined> {
    const failure = this.#take("read");
    if (failure) return Promise.reject(failure.error);
    return Promise.resolve(this.#stored && copy(this.#stored));
  }

  /** See {@linkcode RecordStore.write}. */
  async write(content: RecordContent, resourceVersion?: string): Promise<StoredRecord> {
    await this.writeGate;
    this.writes.push({ bits: content.bits.clone(), writeId: content.writeId });
    const failure = this.#take("write");
    if (failure && !failure.land) {
      failure.then?.();
      throw failure.error;
    }
    if (resourceVersion === undefined) {
      if (this.#stored) throw new AlreadyExistsError(status(409, "AlreadyExists"));
    } else {
      if (!this.#stored) throw new NotFoundError(status(404, "NotFound"));
      if (this.#stored.resourceVersion !== resourceVersion) throw conflictError();
    }
    this.#stored = {
      bits: content.bits.clone(),
      writeId: content.writeId,
      resourceVersion: String(++this.#version),
    };
    const stored = copy(this.#stored);
    if (failure) {
      failure.then?.();
      throw failure.error;
    }
    return stored;
  }

  #take(on: "read" | "write"): ScriptedFailure | undefined {
    const index = this.script.findIndex((failure) => failure.on === on);
    return index === -1 ? undefined : this.script.splice(index, 1)[0];
  }
}

function copy(record: StoredRecord): StoredRecord {
  return { ...record, bits: record.bits.clone() };
}

/**
 * Wraps a store (a real `ConfigMapRecordStore` in the integration tests) and counts the writes
 * that reach it: `writes` per reservation is the record's share of "writes per claim".
 */
export class CountingRecordStore implements RecordStore {
  /** Writes sent (create or replace), whatever their outcome. */
  writes = 0;
  /** Writes that committed. */
  commits = 0;
  /** Writes refused because the record changed, appeared or vanished meanwhile. */
  conflicts = 0;
  #inner: RecordStore;

  /** Counts the writes that reach `inner`. */
  constructor(inner: RecordStore) {
    this.#inner = inner;
  }

  /** See {@linkcode RecordStore.read}. */
  read(): Promise<StoredRecord | undefined> {
    return this.#inner.read();
  }

  /** See {@linkcode RecordStore.write}. */
  write(content: RecordContent, resourceVersion?: string): Promise<StoredRecord> {
    return this.#count(() => this.#inner.write(content, resourceVersion));
  }

  async #count(write: () => Promise<StoredRecord>): Promise<StoredRecord> {
    this.writes++;
    try {
      const stored = await write();
      this.commits++;
      return stored;
    } catch (error) {
      if (classifyWriteError(error) === "conflict") this.conflicts++;
      throw error;
    }
  }
}
