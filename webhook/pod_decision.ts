/**
 * The result type of the pod webhook's decision.
 *
 * @module
 */
import type { FieldError } from "./field_errors.ts";
import type { JsonPatchOp } from "./json_patch.ts";

/** The decision: admit with a patch (possibly empty) and warnings, or refuse with errors. */
export type PodAdmission =
  | { allowed: true; patch: JsonPatchOp[]; warnings: string[] }
  | {
    allowed: false;
    errors: FieldError[];
    /** Every error is a claim on its way to a port: looking again shortly may admit the pod. */
    retryable: boolean;
  };
