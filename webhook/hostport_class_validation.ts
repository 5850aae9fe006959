/**
 * The HostPortClass validating webhook: pool rules on CREATE and on UPDATEs that change the
 * pools, and warnings for legal but risky pools: ports shared with another class, in the NodePort
 * range, or privileged (seed 3.4, 5.5).
 *
 * @module
 */
import * as z from "zod";
import {
  findClassOverlaps,
  formatRange,
  type PortRange,
  validatePools,
} from "../lib/allocator/mod.ts";
import { GROUP, type HostPortClass, KIND, ObjectMetaSchema } from "../lib/api/mod.ts";
import { errorMessage, fieldPath, goQuote, invalid, required } from "./field_errors.ts";
import { jsonEqual } from "./json_patch.ts";
import { type AdmissionLookups, settle } from "./lookups.ts";
import {
  type AdmissionRequest,
  type AdmissionReviewResponse,
  allowReview,
  badRequestReview,
  decodeObject,
  denyReview,
  invalidStatus,
  specUnchanged,
} from "./review.ts";

/** A class as validated: bounds are plain numbers, so bad ones are reported, not rejected as 400. */
const ClassSchema = z.object({
  metadata: ObjectMetaSchema,
  spec: z.object({
    pools: z.array(z.object({ start: z.number(), end: z.number() }).loose()),
  }).loose(),
}).loose();

/**
 * Answers a validating request for a HostPortClass. Pools are checked on CREATE and when an
 * UPDATE changes them, so metadata-only updates of a class stored by the original operator (even
 * one without spec) are never refused; an UPDATE whose old object does not decode is judged on
 * the new object alone.
 */
export async function reviewHostPortClass(
  request: AdmissionRequest,
  lookups: AdmissionLookups,
): Promise<AdmissionReviewResponse> {
  const { uid, operation } = request;
  if ((operation !== "CREATE" && operation !== "UPDATE") || specUnchanged(request)) {
    return allowReview(uid);
  }
  const object = decodeObject(ClassSchema, request.object, "the HostPortClass");
  if (!object.ok) return badRequestReview(uid, object.message);
  const { pools } = object.value.spec;
  if (operation === "UPDATE") {
    const old = decodeObject(ClassSchema, request.oldObject, "the old HostPortClass");
    if (old.ok && jsonEqual(old.value.spec.pools, pools)) return allowReview(uid);
  }
  const errors = validatePools(pools).map((problem) => {
    const path = fieldPath("spec", "pools");
    if (problem.index === undefined) return required(path, problem.message);
    const pool = pools[problem.index];
    if (problem.field === undefined) {
      return invalid(path.index(problem.index), `${pool?.start}-${pool?.end}`, problem.message);
    }
    const value = pool?.[problem.field] ?? null;
    return invalid(path.index(problem.index).child(problem.field), value, problem.message);
  });
  const name = object.value.metadata.name ?? request.name ?? "";
  if (errors.length > 0) {
    return denyReview(uid, invalidStatus({ group: GROUP, kind: KIND.HostPortClass, name }, errors));
  }
  const others = await settle(() => lookups.listHostPortClasses());
  const warnings = poolWarnings(name, pools, others.ok ? others.value ?? [] : []);
  if (!others.ok) {
    warnings.push(
      "spec.pools: cannot check for ports shared with other HostPortClasses: " +
        errorMessage(others.error),
    );
  }
  return allowReview(uid, { warnings });
}

/** The API server's default Service NodePort range. */
const NODE_PORT_RANGE: PortRange = { start: 30000, end: 32767 };
/** Ports below this are privileged on Linux and often taken by node services. */
const FIRST_UNPRIVILEGED_PORT = 1024;

/** Warnings about a class's pools, in pool order, then overlaps in the order of `others`. */
function poolWarnings(
  name: string,
  pools: readonly PortRange[],
  others: readonly HostPortClass[],
): string[] {
  const warnings: string[] = [];
  pools.forEach((pool, i) => {
    const nodePorts = intersect(pool, NODE_PORT_RANGE);
    if (nodePorts !== undefined) {
      warnings.push(
        `spec.pools[${i}]: ${describe(nodePorts)} in the default NodePort range ` +
          `${formatRange(NODE_PORT_RANGE)}; Service node ports there can collide with host ports`,
      );
    }
    const privileged = intersect(pool, { start: 1, end: FIRST_UNPRIVILEGED_PORT - 1 });
    if (privileged !== undefined) {
      warnings.push(
        `spec.pools[${i}]: ${describe(privileged)} below ${FIRST_UNPRIVILEGED_PORT}; ` +
          "privileged ports are often taken by services on the nodes",
      );
    }
  });
  for (const other of others) {
    const otherName = other.metadata.name ?? "";
    if (otherName === name) continue;
    const [overlap] = findClassOverlaps([{ name, pools }, {
      name: otherName,
      pools: other.spec.pools,
    }]);
    if (overlap === undefined) continue;
    warnings.push(
      `spec.pools: ${overlap.message}; ports are unique cluster-wide, so both classes draw ` +
        "on these ports",
    );
  }
  return warnings;
}

/** The warning for a claim whose class does not exist (yet). */
export function classMissingWarning(className: string): string {
  return `spec.hostPortClassName: HostPortClass ${goQuote(className)} does not exist; the ` +
    "claim stays Pending until it is created";
}

function describe(range: PortRange): string {
  const ports = formatRange(range);
  return range.start === range.end ? `port ${ports} is` : `ports ${ports} are`;
}

function intersect(a: PortRange, b: PortRange): PortRange | undefined {
  const start = Math.max(a.start, b.start);
  const end = Math.min(a.end, b.end);
  return start <= end ? { start, end } : undefined;
}
