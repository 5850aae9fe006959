import assert from "node:assert/strict";
import {
  admissionReview,
  failingLookups,
  patchOf,
  pod,
  type PodOptions,
  port,
} from "./_fixtures.ts";
import { handleAdmission } from "./handler.ts";
import type { JsonPatchOp } from "./json_patch.ts";
import { WEBHOOK_PATHS } from "./paths.ts";
import type { AdmissionResponse } from "./review.ts";

const A = "claim.hostport.rmb938.com/";
const P = "port.hostport.rmb938.com/";

/** The pod of S1 as stored: claim `a` on port web, injected 9000. */
const ADMITTED: PodOptions = {
  annotations: { [`${A}web`]: "a", [`${P}web`]: "9000" },
  containers: [[port("web", 8080, 9000)]],
};

async function update(
  newPod: PodOptions,
  oldPod: PodOptions = ADMITTED,
): Promise<AdmissionResponse> {
  const body = admissionReview({
    operation: "UPDATE",
    object: pod(newPod),
    oldObject: pod(oldPod),
  });
  // Updates need no lookups: failing ones prove none is made.
  const result = await handleAdmission(WEBHOOK_PATHS.mutatePod, body, failingLookups("no lookups"));
  if (result.kind !== "review") throw new Error(`Expected a review, got HTTP ${result.status}`);
  return result.review.response;
}

interface UpdateCase {
  name: string;
  pod: PodOptions;
  oldPod?: PodOptions;
  message?: string;
  patch?: JsonPatchOp[];
}

const CASES: UpdateCase[] = [
  {
    name: "S15: relabelling an admitted pod is allowed unchanged",
    pod: { ...ADMITTED, annotations: { ...ADMITTED.annotations, team: "x" } },
    patch: [],
  },
  {
    name: "S15: removing the claim annotation while the port holds the host port is refused",
    pod: { ...ADMITTED, annotations: { [`${P}web`]: "9000" } },
    message: `Pod "p" is invalid: spec.containers[0].ports[0].hostPort: Invalid value: 9000: ` +
      `host ports cannot be set`,
  },
  {
    name: "changing a claim annotation's value is refused",
    pod: { ...ADMITTED, annotations: { [`${A}web`]: "b", [`${P}web`]: "9000" } },
    message: `Pod "p" is invalid: metadata.annotations.claim.hostport.rmb938.com/web: ` +
      `Invalid value: "b": cannot change the claim of an existing pod`,
  },
  {
    name: "adding a claim annotation is refused",
    pod: { ...ADMITTED, annotations: { ...ADMITTED.annotations, [`${A}admin`]: "b" } },
    message: `Pod "p" is invalid: metadata.annotations.claim.hostport.rmb938.com/admin: ` +
      `Forbidden: cannot add a claim to an existing pod`,
  },
  {
    name: "a port annotation changed by the update is put back",
    pod: { ...ADMITTED, annotations: { [`${A}web`]: "a", [`${P}web`]: "1" } },
    patch: [{
      op: "replace",
      path: "/metadata/annotations/port.hostport.rmb938.com~1web",
      value: "9000",
    }],
  },
  {
    name: "a port annotation dropped by the update is put back",
    pod: { ...ADMITTED, annotations: { [`${A}web`]: "a" } },
    patch: [{
      op: "add",
      path: "/metadata/annotations/port.hostport.rmb938.com~1web",
      value: "9000",
    }],
  },
  {
    name: "removing a claim whose port holds no host port is refused while the pod can run",
    pod: { containers: [[port("web", 8080)]] },
    oldPod: { annotations: { [`${A}web`]: "a" }, containers: [[port("web", 8080)]] },
    message: `Pod "p" is invalid: metadata.annotations.claim.hostport.rmb938.com/web: ` +
      `Forbidden: cannot remove the claim of a pod that can still run`,
  },
  {
    name: "a pod being deleted cannot drop its claim (it still runs)",
    pod: { ...ADMITTED, deleting: true, annotations: { [`${P}web`]: "9000" } },
    oldPod: { ...ADMITTED, deleting: true },
    message: `Pod "p" is invalid: spec.containers[0].ports[0].hostPort: Invalid value: 9000: ` +
      `host ports cannot be set`,
  },
  {
    name: "a pod being deleted cannot change its claim",
    pod: { ...ADMITTED, deleting: true, annotations: { [`${A}web`]: "other", [`${P}web`]: "9" } },
    oldPod: { ...ADMITTED, deleting: true },
    message: `Pod "p" is invalid: metadata.annotations.claim.hostport.rmb938.com/web: ` +
      `Invalid value: "other": cannot change the claim of an existing pod`,
  },
  {
    name: "a pod being deleted may be relabelled (seed 5.4 #26: never stuck in Terminating)",
    pod: { ...ADMITTED, deleting: true, annotations: { ...ADMITTED.annotations, team: "x" } },
    oldPod: { ...ADMITTED, deleting: true },
    patch: [],
  },
  {
    name: "a pod being deleted gets a dropped port annotation back",
    pod: { ...ADMITTED, deleting: true, annotations: { [`${A}web`]: "a" } },
    oldPod: { ...ADMITTED, deleting: true },
    patch: [{
      op: "add",
      path: "/metadata/annotations/port.hostport.rmb938.com~1web",
      value: "9000",
    }],
  },
  {
    name: "a running pod being deleted cannot drop its claim either",
    pod: { ...ADMITTED, phase: "Running", annotations: {} },
    oldPod: { ...ADMITTED, deleting: true, phase: "Running" },
    message: `Pod "p" is invalid: spec.containers[0].ports[0].hostPort: Invalid value: 9000: ` +
      `host ports cannot be set`,
  },
  {
    name: "a pod that has Succeeded may drop its claim",
    pod: { ...ADMITTED, phase: "Succeeded", annotations: {} },
    oldPod: { ...ADMITTED, phase: "Succeeded" },
    patch: [],
  },
  {
    name: "a pod that has Failed may change anything",
    pod: { ...ADMITTED, annotations: { [`${A}web`]: "b" } },
    oldPod: { ...ADMITTED, deleting: true, phase: "Failed" },
    patch: [],
  },
  {
    name: "a claim reaching the finished phase in the same update is still guarded",
    pod: { ...ADMITTED, phase: "Succeeded", annotations: {} },
    oldPod: { ...ADMITTED, phase: "Running" },
    message: `Pod "p" is invalid: spec.containers[0].ports[0].hostPort: Invalid value: 9000: ` +
      `host ports cannot be set`,
  },
  {
    name: "an update of a pod admitted before the namespace was labelled is allowed",
    pod: { containers: [[port("http", 80, 80)]], annotations: { team: "y" } },
    oldPod: { containers: [[port("http", 80, 80)]] },
    patch: [],
  },
  {
    name: "removing the claim of a hostNetwork pod explains hostNetwork",
    pod: { hostNetwork: true, containers: [[port("web", 9000, 9000)]] },
    oldPod: {
      hostNetwork: true,
      annotations: { [`${A}web`]: "a" },
      containers: [[port("web", 9000, 9000)]],
    },
    message: `Pod "p" is invalid: spec.containers[0].ports[0].hostPort: Invalid value: 9000: ` +
      "host ports cannot be set: a hostNetwork pod uses each container port as a host port, so " +
      "each port must be named and claimed with a claim.hostport.rmb938.com/<port name> annotation",
  },
];

Deno.test("pod webhook guards only the claims of an updated pod", async (t) => {
  for (const c of CASES) {
    await t.step(c.name, async () => {
      const response = await update(c.pod, c.oldPod);
      if (c.message !== undefined) {
        assert.equal(response.allowed, false);
        assert.equal(response.status?.code, 403);
        assert.equal(response.status?.message, c.message);
      } else {
        assert.equal(response.allowed, true);
        assert.deepEqual(patchOf(response), c.patch);
      }
    });
  }
});

Deno.test("pod webhook admits DELETE and CONNECT without looking at the pod", async () => {
  for (const operation of ["DELETE", "CONNECT"] as const) {
    const body = admissionReview({ operation, oldObject: { nonsense: true } });
    const result = await handleAdmission(WEBHOOK_PATHS.mutatePod, body, failingLookups("x"));
    assert.equal(result.kind === "review" && result.review.response.allowed, true);
  }
});

Deno.test("pod webhook guards updates through pods/status like pod updates", async () => {
  const body = admissionReview({
    operation: "UPDATE",
    subResource: "status",
    object: pod({ ...ADMITTED, deleting: true, annotations: { [`${P}web`]: "9000" } }),
    oldObject: pod({ ...ADMITTED, deleting: true, phase: "Running" }),
  });
  const result = await handleAdmission(WEBHOOK_PATHS.mutatePod, body, failingLookups("x"));
  assert.equal(result.kind === "review" && result.review.response.allowed, false);
});
