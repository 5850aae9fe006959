/**
 * Errors of the allocation record that callers catch. Expected outcomes (port taken, outcome
 * unknown, pool exhausted) are values, never errors.
 *
 * @module
 */

export { AllocationRecordFormatError } from "./record_format.ts";

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
