import assert from "node:assert/strict";
import {
  API_VERSION,
  type HostPortClaim,
  type HostPortClaimTemplate,
  TEMPLATE_CLAIM_LABEL,
} from "../lib/api/mod.ts";
import {
  admissionReview,
  fakeLookups,
  hostPortFor,
  patchOf,
  pod,
  port,
  sortedOps,
} from "./fixtures_test.ts";
import {
  buildTemplateClaim,
  generatedPodName,
  readPodTemplates,
  statefulSetOwnerOf,
  templateClaimName,
  templateRefusalDetail,
} from "./pod_templates.ts";
import { handleAdmission } from "./handler.ts";
import type { AdmissionOptions, TemplateClaimStore, TemplateRefusal } from "./lookups.ts";
import { WEBHOOK_PATHS } from "./paths.ts";
import { admissionOptionsWithTemplateWait } from "./server.ts";
import type { Pod } from "./pod_admission.ts";

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
    spec: { containers: [{ name: "c", ports: [{ name: "web", containerPort: 80 }] }] },
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
    WEBHOOK_PATHS.mutatePod,
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
  const refusals: TemplateRefusal[] = [];
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
      onTemplateRefusal: (refusal) => refusals.push(refusal),
    },
  );
  assert.equal(response.allowed, false);
  assert.match(
    response.status?.message ?? "",
    /metadata\.annotations\.claim-template\.hostport\.rmb938\.com\/web: Invalid value: "port": claim "a-web" of hostPortClass "c1" is not allocated a port yet/,
  );
  assert.deepEqual(deleted, ["a-web"]);
  assert.deepEqual(refusals.map((r) => [r.name, r.uid]), [["port", "t1"]]);
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
