import assert from "node:assert/strict";
import {
  admissionReview,
  CRD_KIND,
  failingLookups,
  fakeLookups,
  hostPortClass,
} from "./fixtures_test.ts";
import { handleAdmission } from "./handler.ts";
import type { AdmissionLookups } from "./lookups.ts";
import { WEBHOOK_NAMES, WEBHOOK_PATHS, webhookForPath, type WebhookId } from "./configurations.ts";

Deno.test("WEBHOOK_PATHS and WEBHOOK_NAMES are the original's seven", () => {
  assert.deepEqual(Object.values(WEBHOOK_PATHS).sort(), [
    "/mutate-hostport-rmb938-com-v1alpha1-hostport",
    "/mutate-hostport-rmb938-com-v1alpha1-hostportclaim",
    "/mutate-hostport-rmb938-com-v1alpha1-hostportclass",
    "/mutate-v1-pod",
    "/validate-hostport-rmb938-com-v1alpha1-hostport",
    "/validate-hostport-rmb938-com-v1alpha1-hostportclaim",
    "/validate-hostport-rmb938-com-v1alpha1-hostportclass",
  ]);
  assert.deepEqual(Object.values(WEBHOOK_NAMES).sort(), [
    "mhostport.kb.io",
    "mhostportclaim.kb.io",
    "mhostportclass.kb.io",
    "mpod.kb.io",
    "vhostport.kb.io",
    "vhostportclaim.kb.io",
    "vhostportclass.kb.io",
  ]);
  assert.equal(webhookForPath("/mutate-v1-pod"), "mutatePod");
  assert.equal(webhookForPath("/mutate-v1-pod/"), undefined);
});

Deno.test("handleAdmission() answers HTTP 400 when no uid can be read, else a review with 400", async () => {
  const noUid = await handleAdmission("mutatePod", [1, 2], fakeLookups());
  assert.equal(noUid.kind, "http");
  assert.equal(noUid.kind === "http" && noUid.status, 400);
  const body = { ...admissionReview({ object: {} }), apiVersion: "admission.k8s.io/v1beta1" };
  const withUid = await handleAdmission("mutatePod", body, fakeLookups());
  assert.equal(withUid.kind, "review");
  if (withUid.kind !== "review") return;
  assert.equal(withUid.review.response.uid, "req-1");
  assert.equal(withUid.review.response.allowed, false);
  assert.equal(withUid.review.response.status?.code, 400);
});

Deno.test("handleAdmission() refuses an object of another kind than the path serves", async (t) => {
  const cases = [
    {
      name: "a HostPortClaim sent to the HostPort webhook",
      path: WEBHOOK_PATHS.validateHostPort,
      body: admissionReview({ kind: CRD_KIND.HostPortClaim, object: {} }),
      message:
        "expected a HostPort object but got hostport.rmb938.com/v1alpha1, Kind=HostPortClaim",
    },
    {
      name: "a HostPort sent to the pod webhook",
      path: WEBHOOK_PATHS.mutatePod,
      body: admissionReview({ kind: CRD_KIND.HostPort, object: {} }),
      message: "expected a Pod object but got hostport.rmb938.com/v1alpha1, Kind=HostPort",
    },
    {
      name: "a request kind that matches but an object that does not",
      path: WEBHOOK_PATHS.mutateHostPortClass,
      body: admissionReview({
        kind: CRD_KIND.HostPortClass,
        object: { apiVersion: "v1", kind: "ConfigMap" },
      }),
      message: "expected a HostPortClass object but got /v1, Kind=ConfigMap",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const result = await handleAdmission(webhookForPath(c.path)!, c.body, fakeLookups());
      assert.equal(result.kind, "review");
      if (result.kind !== "review") return;
      assert.equal(result.review.response.allowed, false);
      assert.equal(result.review.response.status?.code, 400);
      assert.equal(result.review.response.status?.message, c.message);
    });
  }
});

Deno.test("handleAdmission() admits DELETE and CONNECT on every path without reading the object", async () => {
  for (const [id, path] of Object.entries(WEBHOOK_PATHS)) {
    // The pod webhook's kind is the default one.
    const kind = CRD_KIND[id.replace(/^(mutate|validate)/, "") as keyof typeof CRD_KIND];
    for (const operation of ["DELETE", "CONNECT"] as const) {
      const body = admissionReview({ kind, operation, oldObject: { nonsense: true } });
      const result = await handleAdmission(id as WebhookId, body, failingLookups("x"));
      const allowed = result.kind === "review" && result.review.response.allowed;
      assert.equal(allowed, true, `${operation} on ${path}`);
    }
  }
});

Deno.test("handleAdmission() never throws, even when a lookup throws synchronously", async () => {
  const throwing: AdmissionLookups = {
    getClaim() {
      throw new Error("sync");
    },
    getHostPort() {
      throw new Error("sync");
    },
    listHostPortClasses() {
      throw new Error("sync");
    },
  };
  const body = admissionReview({
    kind: CRD_KIND.HostPortClass,
    object: hostPortClass("c", [{ start: 9000, end: 9001 }]),
  });
  const result = await handleAdmission("validateHostPortClass", body, throwing);
  assert.equal(result.kind === "review" && result.review.response.allowed, true);
});
