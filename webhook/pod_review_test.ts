import type { EventSubject } from "../lib/ops/contracts.ts";
import assert from "node:assert/strict";
import {
  API_VERSION,
  type HostPortClaim,
  type HostPortClaimTemplate,
  TEMPLATE_CLAIM_LABEL,
} from "../lib/api/mod.ts";
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
import {
  type AdmissionLookups,
  type AdmissionOptions,
  settle,
  type TemplateClaimStore,
} from "./lookups.ts";
import { type Pod, readPodClaims } from "./pod_admission.ts";
import {
  buildTemplateClaim,
  generatedPodName,
  lookupClaims,
  readPodTemplates,
  statefulSetOwnerOf,
  templateClaimName,
  templateRefusalDetail,
} from "./pod_review.ts";
import type { AdmissionResponse } from "./review.ts";
import { admissionOptionsWithTemplateWait } from "./server.ts";

const A = "claim.hostport.rmb938.com/";
const WEB_POD = pod({ annotations: { [`${A}web`]: "a" }, containers: [[port("web", 8080)]] });

async function review(
  object: unknown,
  lookups: AdmissionLookups,
  options?: AdmissionOptions,
  namespace: string | null = "ns1",
): Promise<AdmissionResponse> {
  const body = admissionReview(namespace === null ? { object } : { object, namespace });
  const result = await handleAdmission("mutatePod", body, lookups, options);
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
  const annotations = { [`${A}w`]: "a", [`${A}x`]: "b", [`${A}y`]: "a", [`${A}z`]: "c" };
  const states = await lookupClaims(
    lookups,
    "ns1",
    readPodClaims({ metadata: { annotations } }).names,
  );
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

const T = "claim-template.hostport.rmb938.com/";
const TEMPLATE: HostPortClaimTemplate = {
  apiVersion: API_VERSION,
  kind: "HostPortClaimTemplate",
  metadata: { name: "port", namespace: "ns1", uid: "t1" },
  spec: { hostPortClassName: "c1", metadata: { labels: { team: "a" } } },
};
const SET_REF = {
  apiVersion: "apps/v1",
  kind: "StatefulSet",
  name: "web",
  uid: "s1",
  controller: true,
};

function stsPod(name: string, annotations: Record<string, string> = { [`${T}web`]: "port" }): Pod {
  return {
    metadata: { name, annotations, ownerReferences: [SET_REF] },
    spec: { containers: [{ ports: [{ name: "web", containerPort: 80 }] }] },
  };
}

Deno.test("readPodTemplates() refuses a port naming a claim and a template, and a shared StatefulSet template", () => {
  const both = readPodTemplates({
    metadata: { annotations: { [`${T}web`]: "port", "claim.hostport.rmb938.com/web": "x" } },
  });
  assert.match(
    both.errors[0]?.detail ?? "",
    /names both a hostPortClaim and a hostPortClaimTemplate/,
  );
  const shared = readPodTemplates(stsPod("web-0", { [`${T}a`]: "port", [`${T}b`]: "port" }));
  assert.equal(shared.valid.length, 1);
  assert.match(shared.errors[0]?.detail ?? "", /one claim per template/);
  const bad = readPodTemplates({ metadata: { annotations: { [T]: "port", [`${T}x`]: "No" } } });
  assert.equal(bad.errors.length, 2);
  const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`${T}p${i}`, "port"]));
  assert.equal(
    readPodTemplates({ metadata: { annotations: many } }).errors[0]?.type,
    "FieldValueTooMany",
  );
});

Deno.test("statefulSetOwnerOf() reads the set and the ordinal from the label or the name", () => {
  assert.deepEqual(statefulSetOwnerOf(stsPod("web-3")), { name: "web", uid: "s1", ordinal: 3 });
  const labelled = stsPod("web-3");
  labelled.metadata!.labels = { "apps.kubernetes.io/pod-index": "7" };
  assert.equal(statefulSetOwnerOf(labelled)?.ordinal, 7);
  assert.equal(statefulSetOwnerOf({ metadata: { name: "web-3" } }), undefined);
});

Deno.test("templateClaimName() is <template>-<pod> for StatefulSet pods, <pod>-<port> otherwise", () => {
  const annotation = readPodTemplates(stsPod("web-3")).valid[0]!;
  assert.deepEqual(templateClaimName("web-3", annotation, true), { ok: true, name: "port-web-3" });
  assert.deepEqual(templateClaimName("game-x", annotation, false), {
    ok: true,
    name: "game-x-web",
  });
  assert.equal(templateClaimName("a".repeat(250), annotation, false).ok, false);
});

Deno.test("buildTemplateClaim() labels where the claim came from and owns it by the set under whenDeleted Delete", () => {
  const claim = buildTemplateClaim({
    template: TEMPLATE,
    name: "port-web-3",
    namespace: "ns1",
    podName: "web-3",
    portName: "web",
    statefulSet: {
      name: "web",
      uid: "s1",
      ordinal: 3,
      policy: { whenDeleted: "Delete", whenScaled: "Retain" },
    },
  });
  assert.deepEqual(claim.metadata.labels, {
    team: "a",
    [TEMPLATE_CLAIM_LABEL.template]: "port",
    [TEMPLATE_CLAIM_LABEL.portName]: "web",
    [TEMPLATE_CLAIM_LABEL.statefulSet]: "web",
    [TEMPLATE_CLAIM_LABEL.ordinal]: "3",
  });
  assert.deepEqual(claim.metadata.ownerReferences, [
    { apiVersion: "apps/v1", kind: "StatefulSet", name: "web", uid: "s1" },
  ]);
  assert.equal(claim.spec.hostPortClassName, "c1");
});

Deno.test("generatedPodName() adds 5 characters of the API server's alphabet, trimmed to 63", () => {
  assert.equal(generatedPodName("game-", [0, 0.5, 0.99, 0, 0]), "game-br9bb");
  assert.equal(generatedPodName("x".repeat(80), [0, 0, 0, 0, 0]).length, 63);
});

Deno.test("templateRefusalDetail() names the class and says it is full", () => {
  const claim: HostPortClaim = {
    apiVersion: API_VERSION,
    kind: "HostPortClaim",
    metadata: { name: "a-web" },
    spec: { hostPortClassName: "c1" },
    status: {
      conditions: [{
        type: "Bound",
        status: "False",
        reason: "PoolExhausted",
        message: "m",
        lastTransitionTime: "2026-01-01T00:00:00Z",
      }],
    },
  };
  assert.equal(
    templateRefusalDetail(claim, "a-web", "c1"),
    'hostPortClass "c1" is full: no free port for claim "a-web" of hostPortClass "c1"; ' +
      "the pod's controller retries",
  );
  assert.match(templateRefusalDetail(undefined, "a-web", "c1"), /is not allocated a port yet/);
});

/** A store whose created claims an imaginary operator binds at once (port 9100, 9101, ...). */
function bindingStore(lookups: ReturnType<typeof fakeLookups>, bind = true) {
  let next = 9100;
  const created: HostPortClaim[] = [];
  const deleted: string[] = [];
  const store: TemplateClaimStore = {
    getTemplate: (_ns, name) => Promise.resolve(name === "port" ? TEMPLATE : undefined),
    getStatefulSet: () =>
      Promise.resolve({ uid: "s1", policy: { whenDeleted: "Retain", whenScaled: "Retain" } }),
    createClaim(claim) {
      if (lookups.claims.some((c) => c.metadata.name === claim.metadata.name)) {
        return Promise.resolve(false);
      }
      created.push(claim);
      const uid = `uid-${claim.metadata.name}`;
      const stored: HostPortClaim = {
        ...claim,
        metadata: { ...claim.metadata, uid, finalizers: ["hostport.rmb938.com"] },
        spec: { ...claim.spec, hostPortName: `hpc-${uid}` },
      };
      lookups.claims.push(stored);
      if (bind) lookups.hostPorts.push(hostPortFor(claim.metadata.name ?? "", next++));
      return Promise.resolve(true);
    },
    deleteClaim(_ns, name) {
      deleted.push(name);
      return Promise.resolve();
    },
  };
  return { store, created, deleted };
}

async function reviewTemplatePod(
  object: unknown,
  lookups: ReturnType<typeof fakeLookups>,
  options: AdmissionOptions,
) {
  const result = await handleAdmission(
    "mutatePod",
    admissionReview({ object, namespace: "ns1" }),
    lookups,
    options,
  );
  if (result.kind !== "review") throw new Error("expected a review");
  return result.review.response;
}

Deno.test("reviewPod() creates a generateName pod's claim, names the pod and gives it the port", async () => {
  const lookups = fakeLookups();
  const { store, created } = bindingStore(lookups);
  const response = await reviewTemplatePod(
    pod({
      generateName: "game-",
      annotations: { [`${T}web`]: "port" },
      containers: [[port("web", 80)]],
    }),
    { ...lookups, templateClaims: store },
    { random: () => 0 },
  );
  assert.equal(response.allowed, true, JSON.stringify(response.status));
  assert.equal(created[0]?.metadata.name, "game-bbbbb-web");
  assert.deepEqual(
    sortedOps(patchOf(response)),
    sortedOps([
      { op: "add", path: "/metadata/name", value: "game-bbbbb" },
      {
        op: "add",
        path: "/metadata/annotations/claim.hostport.rmb938.com~1web",
        value: "game-bbbbb-web",
      },
      { op: "add", path: "/metadata/annotations/port.hostport.rmb938.com~1web", value: "9100" },
      { op: "add", path: "/spec/containers/0/ports/0/hostPort", value: 9100 },
      { op: "add", path: "/metadata/labels", value: { "hostport.rmb938.com/claims": "true" } },
    ]),
  );
});

Deno.test("reviewPod() refuses a pod whose new claim gets no port, deletes that claim and reports the template", async () => {
  const lookups = fakeLookups();
  const { store, deleted } = bindingStore(lookups, false);
  const refusals: EventSubject[] = [];
  const response = await reviewTemplatePod(
    pod({ name: "a", annotations: { [`${T}web`]: "port" }, containers: [[port("web", 80)]] }),
    { ...lookups, templateClaims: store },
    {
      waitForPort: {
        attempts: 0,
        templateAttempts: 2,
        intervalMs: 1,
        delay: () => Promise.resolve(),
      },
      onTemplateRefusal: (template) => refusals.push(template),
    },
  );
  assert.equal(response.allowed, false);
  assert.match(
    response.status?.message ?? "",
    /metadata\.annotations\.claim-template\.hostport\.rmb938\.com\/web: Invalid value: "port": claim "a-web" of hostPortClass "c1" is not allocated a port yet/,
  );
  assert.deepEqual(deleted, ["a-web"]);
  assert.deepEqual(refusals.map((r) => [r.kind, r.metadata.name, r.metadata.uid]), [
    ["HostPortClaimTemplate", "port", "t1"],
  ]);
});

Deno.test("reviewPod() reuses a StatefulSet pod's claim and never deletes it", async () => {
  const lookups = fakeLookups();
  const { store, created, deleted } = bindingStore(lookups);
  const object = {
    ...pod({
      name: "web-0",
      annotations: { [`${T}web`]: "port" },
      containers: [[port("web", 80)]],
    }),
  };
  (object.metadata as Record<string, unknown>).ownerReferences = [SET_REF];
  const options = { random: () => 0 };
  const first = await reviewTemplatePod(object, { ...lookups, templateClaims: store }, options);
  const again = await reviewTemplatePod(object, { ...lookups, templateClaims: store }, options);
  assert.equal(first.allowed && again.allowed, true);
  assert.equal(created.length, 1, "the claim port-web-0 is made once");
  assert.deepEqual(patchOf(first), patchOf(again), "the same port both times");
  assert.deepEqual(deleted, []);
});

Deno.test("admissionOptionsWithTemplateWait() turns --claim-template-wait into lookup rounds", () => {
  assert.equal(admissionOptionsWithTemplateWait().waitForPort?.templateAttempts, 24);
  assert.equal(admissionOptionsWithTemplateWait(3_000).waitForPort?.templateAttempts, 12);
  assert.equal(admissionOptionsWithTemplateWait(3_100).waitForPort?.templateAttempts, 13);
  assert.equal(admissionOptionsWithTemplateWait(3_000).waitForPort?.attempts, 10);
});
