/**
 * The narrow seam between {@linkcode AllocationRecord} and storage: read, create, and replace by
 * compare-and-swap. `ConfigMapRecordStore` is the real one; tests use a tiny in-memory fake.
 *
 * @module
 */

import {
  AlreadyExistsError,
  ConflictError,
  KubeApiError,
  KubeConnectionError,
  KubeRequestTimeoutError,
  NotFoundError,
} from "../kube/mod.ts";
import type { RecordContent } from "./record_format.ts";

export type { RecordContent } from "./record_format.ts";

/** The record as stored, with the version a compare-and-swap must name. */
export interface StoredRecord extends RecordContent {
  /** The storage version (`metadata.resourceVersion`). */
  readonly resourceVersion: string;
}

/**
 * Compare-and-swap storage for one record. Errors are the `lib/kube` error family, so the record
 * can tell a refused write from one whose outcome is unknown (see {@linkcode classifyWriteError}).
 */
export interface RecordStore {
  /**
   * Reads the record, or undefined when it does not exist. Must be a consistent read (never from
   * a cache).
   *
   * @throws {AllocationRecordFormatError} the stored content is not understood
   */
  read(): Promise<StoredRecord | undefined>;
  /** Creates the record. @throws {AlreadyExistsError} it exists already */
  create(content: RecordContent): Promise<StoredRecord>;
  /**
   * Replaces the record if it is still at `resourceVersion`.
   *
   * @throws {ConflictError} it changed since; {NotFoundError} it was deleted
   */
  replace(content: RecordContent, resourceVersion: string): Promise<StoredRecord>;
}

/**
 * How a failed write ended:
 * - `"conflict"`: refused because the record changed, was created, or was deleted meanwhile; it
 *   certainly did not land. Re-read and re-apply.
 * - `"refused"`: refused for another definite reason (403, 422, 429...); it did not land.
 * - `"unknown"`: a timeout, a connection error, a 5xx, or anything unexpected; it may have
 *   landed, now or later.
 */
export type WriteFailure = "conflict" | "refused" | "unknown";

/** Classifies an error thrown by {@linkcode RecordStore.create} or {@linkcode RecordStore.replace}. */
export function classifyWriteError(error: unknown): WriteFailure {
  if (
    error instanceof ConflictError || error instanceof AlreadyExistsError ||
    error instanceof NotFoundError
  ) {
    return "conflict";
  }
  if (error instanceof KubeRequestTimeoutError || error instanceof KubeConnectionError) {
    return "unknown";
  }
  // 5xx: the server may have committed before failing (504 is its own timeout).
  if (error instanceof KubeApiError) return error.code >= 500 ? "unknown" : "refused";
  return "unknown";
}
