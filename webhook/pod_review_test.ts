import assert from "node:assert/strict";
import {
  admissionReview,
  claim,
  failingLookups,
  fakeLookups,
  hostPortFor,
  patchOf,
  pod,
  port,
  sortedOps,
} from "./fixtures_test.ts";
import { handleAdmission } from "./handler.ts";
import type { AdmissionLookups, AdmissionOptions } from "./lookups.ts";
import { WEBHOOK_PATHS } from "./paths.ts";
import type { AdmissionResponse } from "./review.ts";
import { settle } from "./lookups.ts";
import { lookupClaims } from "./pod_review.ts";

const A = "claim.hostport.rmb938.com/";
const WEB_POD = pod({ annotations: { [`${A}web`]: "a" }, containers: [[port("web", 8080)]] });

async function review(
  object: unknown,
  lookups: AdmissionLookups,
  options?: AdmissionOptions,
  namespace: string | null = "ns1",
): Promise<AdmissionResponse> {
  const body = admissionReview(namespace === null ? { object } : { object, namespace });
  const result = await handleAdmission(WEBHOOK_PATHS.mutatePod, body, lookups, options);
  if (result.kind !== "review") throw new Error(`Expected a review, got HTTP ${result.status}`);
  return result.review.response;
}

/** Waiting options that record each delay and let `onDelay` change the world meanwhile. */
function waiting(attempts: number, onDelay: (round: number) => void = () => {}) {
  const delays: number[] = [];
  const options: AdmissionOptions = {
    waitForPort: {
      attempts,
      intervalMs: 250,
      delay(ms) {
        delays.push(ms);
        onDelay(delays.length);
        return Promise.resolve();
      },
    },
  };
  return { delays, options };
}

Deno.test("reviewPod() waits for a bound claim's port and admits the pod once it is written", async () => {
  const lookups = fakeLookups({ claims: [claim("a")], hostPorts: [hostPortFor("a", 0)] });
  const { delays, options } = waiting(5, (round) => {
    if (round === 2) lookups.hostPorts = [hostPortFor("a", 9000)];
  });
  const response = await review(WEB_POD, lookups, options);
  assert.equal(response.allowed, true);
  assert.deepEqual(delays, [250, 250]);
  assert.deepEqual(sortedOps(patchOf(response)).map((op) => op.path), [
    "/metadata/annotations/port.hostport.rmb938.com~1web",
    "/metadata/labels",
    "/spec/containers/0/ports/0/hostPort",
  ]);
});

Deno.test("reviewPod() waits for the operator to bind a new claim", async () => {
  const lookups = fakeLookups({ claims: [claim("a", { hostPortName: "" })] });
  const { delays, options } = waiting(3, () => {
    lookups.claims = [claim("a")];
    lookups.hostPorts = [hostPortFor("a", 9000)];
  });
  assert.equal((await review(WEB_POD, lookups, options)).allowed, true);
  assert.deepEqual(delays, [250]);
});

Deno.test("reviewPod() refuses with the original's message once the attempts are used up", async () => {
  const lookups = fakeLookups({ claims: [claim("a")], hostPorts: [hostPortFor("a", 0)] });
  const { delays, options } = waiting(3);
  const response = await review(WEB_POD, lookups, options);
  assert.equal(
    response.status?.message,
    `Pod "p" is invalid: metadata.annotations.claim.hostport.rmb938.com/web.hostPort: ` +
      `Invalid value: "hpc-uid-a": hostport is not allocated a port yet`,
  );
  assert.deepEqual(delays, [250, 250, 250]);
});

Deno.test("reviewPod() does not wait when some problem cannot clear up by itself", async (t) => {
  const cases = [
    { name: "a missing claim", contents: { claims: [] }, pod: WEB_POD },
    {
      name: "a deleting HostPort",
      contents: { claims: [claim("a")], hostPorts: [hostPortFor("a", 9000, { deleting: true })] },
      pod: WEB_POD,
    },
    {
      name: "a pod error beside a pending claim",
      contents: { claims: [claim("a")], hostPorts: [hostPortFor("a", 0)] },
      pod: pod({
        annotations: { [`${A}web`]: "a" },
        containers: [[port("web", 1), port("x", 2, 3)]],
      }),
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { delays, options } = waiting(3);
      const response = await review(c.pod, fakeLookups(c.contents), options);
      assert.equal(response.allowed, false);
      assert.deepEqual(delays, []);
    });
  }
});

Deno.test("reviewPod() turns failed lookups into Internal error field errors", async () => {
  const response = await review(WEB_POD, failingLookups("cache is not synced"));
  assert.equal(
    response.status?.message,
    `Pod "p" is invalid: metadata.annotations.claim.hostport.rmb938.com/web: ` +
      `Internal error: cache is not synced`,
  );
});

Deno.test("reviewPod() reads a claim again after a failed read, and refuses while it fails", async () => {
  const lookups = fakeLookups({ claims: [claim("a")], hostPorts: [hostPortFor("a", 9000)] });
  let failures = 1;
  const flaky: AdmissionLookups = {
    ...lookups,
    getClaim(namespace, name) {
      if (failures-- > 0) return Promise.reject(new Error("the API server is busy"));
      return lookups.getClaim(namespace, name);
    },
  };
  const recovered = waiting(3);
  assert.equal((await review(WEB_POD, flaky, recovered.options)).allowed, true);
  assert.deepEqual(recovered.delays, [250]);
  const down = waiting(2);
  const refused = await review(WEB_POD, failingLookups("the API server is down"), down.options);
  assert.equal(refused.allowed, false);
  assert.deepEqual(down.delays, [250, 250]);
});

Deno.test("reviewPod() answers 400 for a pod it cannot decode", async () => {
  const response = await review(
    { spec: { containers: [{ ports: [{ containerPort: "80" }] }] } },
    fakeLookups(),
  );
  assert.equal(response.allowed, false);
  assert.equal(response.status?.code, 400);
  assert.equal(
    response.status?.message,
    "Cannot decode the pod: spec.containers[0].ports[0].containerPort: " +
      "Invalid input: expected number, received string",
  );
});

Deno.test("reviewPod() answers 400 for a pod with claims but no namespace", async () => {
  const object = { metadata: { name: "p", annotations: { [`${A}web`]: "a" } }, spec: {} };
  const response = await review(object, fakeLookups(), undefined, null);
  assert.equal(response.status?.code, 400);
  assert.equal(
    response.status?.message,
    "Cannot admit a pod with claims: its namespace is not known",
  );
});

Deno.test("reviewPod() takes the namespace from the pod when the request has none", async () => {
  const lookups = fakeLookups({ claims: [claim("a")], hostPorts: [hostPortFor("a", 9000)] });
  const response = await review(WEB_POD, lookups, undefined, null);
  assert.equal(response.allowed, true);
  assert.deepEqual(lookups.calls, ["claim ns1/a", "hostPort hpc-uid-a"]);
});

Deno.test("lookupClaims() looks each claim up once, and a HostPort only when the claim names one", async () => {
  const lookups = fakeLookups({
    claims: [claim("a"), claim("b", { hostPortName: "" })],
    hostPorts: [hostPortFor("a", 9000)],
  });
  const states = await lookupClaims(lookups, "ns1", ["a", "b", "a", "c"]);
  assert.deepEqual(lookups.calls.sort(), [
    "claim ns1/a",
    "claim ns1/b",
    "claim ns1/c",
    "hostPort hpc-uid-a",
  ]);
  assert.equal(states.get("a")?.hostPort?.ok, true);
  assert.equal(states.get("b")?.hostPort, undefined);
  assert.deepEqual(states.get("c"), { claim: { ok: true, value: undefined } });
});

Deno.test("settle() keeps rejections and synchronous throws as values", async () => {
  const error = new Error("x");
  assert.deepEqual(await settle(() => Promise.reject(error)), { ok: false, error });
  assert.deepEqual(
    await settle(() => {
      throw error;
    }),
    { ok: false, error },
  );
  assert.deepEqual(await settle(() => Promise.resolve(1)), { ok: true, value: 1 });
});
