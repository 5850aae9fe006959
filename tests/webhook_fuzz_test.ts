/**
 * Fuzzing of the admission logic: random JSON, valid AdmissionReviews with random mutations
 * (huge strings, wrong types, deep nesting, missing fields) and random but plausible pods,
 * claims and HostPorts go through `handleAdmission`. It must never throw, must always return a
 * well-formed result, and every patch it allows must apply cleanly to the object it came with.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { z } from "zod";
import { type AdmissionResult, handleAdmission } from "../webhook/handler.ts";
import type { AdmissionLookups } from "../webhook/lookups.ts";
import { WEBHOOK_PATHS, webhookForPath } from "../webhook/configurations.ts";
import { applyJsonPatch, decodeJsonPatch } from "../webhook/fixtures_test.ts";
import {
  A,
  expand,
  KINDS,
  mutateAt,
  PATHS,
  pathsOf,
  plausiblePodArb,
  podArb,
  replacementArb,
  reviewArb,
  type World,
  worldArb,
} from "./webhook_fuzz_arbitraries.ts";

/** A well-formed result: an HTTP error, or a review whose parts agree with each other. */
const ResultSchema = z.union([
  z.object({
    kind: z.literal("http"),
    status: z.union([z.literal(400), z.literal(404), z.literal(415), z.literal(422)]),
    message: z.string().min(1),
  }).strict(),
  z.object({
    kind: z.literal("review"),
    review: z.object({
      apiVersion: z.literal("admission.k8s.io/v1"),
      kind: z.literal("AdmissionReview"),
      response: z.object({
        uid: z.string().min(1),
        allowed: z.boolean(),
        status: z.object({ code: z.int().min(400).max(599), message: z.string().min(1) }).loose()
          .optional(),
        patchType: z.literal("JSONPatch").optional(),
        patch: z.base64().optional(),
        warnings: z.array(z.string()).optional(),
      }).strict().refine((r) => (r.patch === undefined) === (r.patchType === undefined))
        .refine((r) => r.allowed === (r.status === undefined))
        .refine((r) => r.allowed || r.patch === undefined),
    }).strict(),
  }).strict(),
]);

/** Lookups over fixed objects, serving copies so nothing can be changed through them. */
function lookupsOf(world: World): AdmissionLookups {
  return {
    getClaim: (namespace, name) =>
      Promise.resolve(structuredClone(
        world.claims.find((c) => c.metadata.namespace === namespace && c.metadata.name === name),
      )),
    getHostPort: (name) =>
      Promise.resolve(structuredClone(world.hostPorts.find((h) => h.metadata.name === name))),
    listHostPortClasses: () =>
      world.failClasses
        ? Promise.reject(new Error("down"))
        : Promise.resolve(structuredClone(world.classes)),
  };
}

/** Runs one request and checks every property that holds whatever the input. */
async function check(path: string, body: unknown, world: World): Promise<AdmissionResult> {
  const id = webhookForPath(path);
  if (id === undefined) throw new Error(`No webhook is served at ${path}`);
  const result = await handleAdmission(id, body, lookupsOf(world), {
    waitForPort: { attempts: 2, intervalMs: 1, delay: () => Promise.resolve() },
  });
  const parsed = ResultSchema.safeParse(result);
  assert.ok(parsed.success, `Malformed result ${JSON.stringify(result).slice(0, 500)}`);
  JSON.stringify(result); // serialisable
  if (result.kind === "review") {
    const request = (body as { request?: { uid?: unknown; object?: unknown } }).request;
    if (typeof request?.uid === "string" && request.uid !== "") {
      assert.equal(result.review.response.uid, request.uid);
    }
    const { patch } = result.review.response;
    if (patch !== undefined) {
      const ops = decodeJsonPatch(patch) as Parameters<typeof applyJsonPatch>[1];
      applyJsonPatch(request?.object, ops); // throws if an operation does not apply
    }
  }
  return result;
}

const EMPTY_WORLD: World = { claims: [], hostPorts: [], classes: [], failClasses: false };

// ---- random JSON ----

Deno.test("handleAdmission() survives random JSON bodies on every path", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...PATHS),
      fc.jsonValue({ maxDepth: 6 }),
      async (path, body) => {
        await check(path, body, EMPTY_WORLD);
      },
    ),
    { numRuns: 2_000 },
  );
});

Deno.test("handleAdmission() survives valid reviews with random mutations", async () => {
  await fc.assert(
    fc.asyncProperty(
      reviewArb,
      fc.array(fc.tuple(fc.nat(), replacementArb), { minLength: 1, maxLength: 3 }),
      async ({ path, body, world }, mutations) => {
        let mutated: unknown = body;
        for (const [pick, replacement] of mutations) {
          const paths = pathsOf(mutated);
          mutated = mutateAt(mutated, paths[pick % paths.length] ?? [], expand(replacement));
        }
        await check(path, mutated, world);
      },
    ),
    { numRuns: 4_000 },
  );
});

// ---- plausible pods: what an allowed pod looks like after its patch ----

interface PortJson {
  name?: string;
  containerPort: number;
  hostPort?: number;
}
interface PodJson {
  metadata: { annotations?: Record<string, string>; deletionTimestamp?: string };
  spec: {
    hostNetwork?: boolean;
    containers: { ports?: PortJson[] }[];
    initContainers?: { ports?: PortJson[] }[];
  };
}

Deno.test("handleAdmission() admits a new pod only with every claimed port set to its HostPort's port", async () => {
  let admittedWithPatch = 0;
  await fc.assert(
    fc.asyncProperty(fc.oneof(podArb, plausiblePodArb), worldArb, async (pod, world) => {
      const body = {
        apiVersion: "admission.k8s.io/v1",
        kind: "AdmissionReview",
        request: {
          uid: "u",
          kind: KINDS.pod,
          resource: { group: "", version: "v1", resource: "pods" },
          namespace: "ns1",
          operation: "CREATE",
          object: pod,
        },
      };
      const result = await check(WEBHOOK_PATHS.mutatePod, body, world);
      if (result.kind !== "review" || !result.review.response.allowed) return;
      const { patch } = result.review.response;
      const ops = patch === undefined
        ? []
        : decodeJsonPatch(patch) as Parameters<typeof applyJsonPatch>[1];
      const patched = applyJsonPatch(pod, ops) as PodJson;
      if (ops.length > 0) admittedWithPatch++;
      assertClaimsHonoured(patched, world);
      // Only our annotations, our label and ports change.
      for (const op of ops) {
        assert.match(
          op.path,
          /^\/metadata\/annotations(\/port\.hostport\.rmb938\.com~1.+)?$|^\/metadata\/labels(\/hostport\.rmb938\.com~1claims)?$|^\/spec\/(initC|c)ontainers\/\d+\/ports\/\d+\/(hostPort|containerPort)$/,
        );
      }
    }),
    { numRuns: 4_000 },
  );
  // The property above must not pass vacuously.
  assert.ok(admittedWithPatch > 100, `Only ${admittedWithPatch} pods were admitted with a patch`);
});

function assertClaimsHonoured(pod: PodJson, world: World): void {
  const annotations = pod.metadata.annotations ?? {};
  const ports = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].flatMap((c) =>
    c.ports ?? []
  );
  const claimed = new Set<string>();
  for (const [key, claimName] of Object.entries(annotations)) {
    if (!key.startsWith(A)) continue;
    const portName = key.slice(A.length);
    claimed.add(portName);
    const claim = world.claims.find((c) => c.metadata.name === claimName);
    const hostPort = world.hostPorts.find((h) => h.metadata.name === claim?.spec.hostPortName);
    const allocated = hostPort?.status?.port ?? 0;
    assert.ok(allocated > 0, `Admitted with claim ${claimName} that has no port`);
    assert.equal(annotations[`port.hostport.rmb938.com/${portName}`], String(allocated));
    const named = ports.filter((p) => p.name === portName);
    assert.equal(named.length, 1);
    assert.equal(named[0]?.hostPort, allocated);
  }
  for (const port of ports) {
    const nodePort = port.hostPort || (pod.spec.hostNetwork ? port.containerPort : 0);
    if (nodePort > 0) assert.ok(claimed.has(port.name ?? ""), "Admitted an unclaimed host port");
  }
}
