/**
 * Errors of the allocation record that callers catch. Expected outcomes (port taken, outcome
 * unknown, pool exhausted) are values, never errors.
 *
 * @module
 */

/**
 * A reservation or release was certainly not committed: every attempt was refused, or the record
 * could not be read. Operations that may have landed are never rejected with this error; they
 * settle as `{ ok: false, reason: "unknown" }` instead.
 */
export class AllocationRecordError extends Error {
  /** Builds `Cannot <action> as <detail>`, keeping the last failure as `cause`. */
  constructor(action: string, detail: string, options?: ErrorOptions) {
    super(`Cannot ${action} as ${detail}`, options);
    this.name = "AllocationRecordError";
  }
}

/**
 * The record was found missing after this process had seen it exist (someone deleted it). Nothing
 * is re-created silently: the repair pass rebuilds it from every port anyone may hold, then
 * allocation pauses for the leak holdoff.
 */
export class AllocationRecordMissingError extends AllocationRecordError {
  /** Builds the error for `action`. */
  constructor(action: string, options?: ErrorOptions) {
    super(action, "the allocation record was deleted; repair is rebuilding it", options);
    this.name = "AllocationRecordMissingError";
  }
}

/**
 * Allocation is refused for now without touching the record: it is missing, or it was rebuilt
 * and allocation is paused for the leak holdoff. `retryInMs` says when to look again.
 */
export class AllocationUnavailableError extends Error {
  /** When to try again, in ms (0 when unknown: a repair pass decides). */
  readonly retryInMs: number;

  /** `reason` completes "Allocation is unavailable: ...". */
  constructor(reason: string, retryInMs: number) {
    super(`Allocation is unavailable: ${reason}`);
    this.name = "AllocationUnavailableError";
    this.retryInMs = retryInMs;
  }
}

/** The record's content is not in a format this code understands; it is never overwritten. */
export class AllocationRecordFormatError extends TypeError {
  /** Builds `Cannot read the allocation record as <detail>`. */
  constructor(detail: string, options?: ErrorOptions) {
    super(`Cannot read the allocation record as ${detail}`, options);
    this.name = "AllocationRecordFormatError";
  }
}
