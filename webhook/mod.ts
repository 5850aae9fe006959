/**
 * The admission logic of hostport-allocator: the seven webhooks of the original operator as one
 * pure function, {@linkcode handleAdmission}, from (URL path, parsed JSON body, read-only lookups)
 * to the AdmissionReview to answer with. Where it differs from the original on purpose is said
 * where the difference is made (seed 5.2, 5.4): pod patches hold only changes, errors come in a
 * fixed order with `details.causes`, init containers count like containers, hostNetwork pods get
 * their allocated port as containerPort, deleting claims and hijacked HostPorts are refused, claims
 * on their way to a port are waited for, pods may name claim templates, and pod UPDATEs only
 * guard the claims the pod was admitted with.
 *
 * @module
 */
export { handleAdmission } from "./handler.ts";
export type { AdmissionResult } from "./handler.ts";
export type { AdmissionLookups } from "./lookups.ts";
export { WEBHOOK_PATHS } from "./paths.ts";
