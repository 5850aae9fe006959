import assert from "node:assert/strict";
import { generateCa, generateServingCert, type ServingNames } from "./tls_certs.ts";
import {
  planServingSecret,
  type SecretContents,
  splitPemBundle,
  validCas,
} from "./tls_self_managed.ts";

const T0 = new Date("2030-01-01T00:00:00Z");
const DAY = 86_400_000;
const NAMES: ServingNames = { dnsNames: ["hp.system.svc"], ipAddresses: ["127.0.0.1"] };
const ca = await generateCa("ca", { now: T0, validityMs: 300 * DAY });
const serving = await generateServingCert(ca, NAMES, { now: T0, validityMs: 90 * DAY });
const GOOD: SecretContents = {
  caBundlePem: ca.certPem,
  caKeyPem: ca.keyPem,
  certPem: serving.certPem,
  keyPem: serving.keyPem,
};

function at(days: number): Date {
  return new Date(T0.getTime() + days * DAY);
}

function plan(contents: SecretContents | undefined, now = at(1), names = NAMES) {
  return planServingSecret({ contents, names, now, caPropagationMs: DAY });
}

Deno.test("planServingSecret() keeps a good pair until 2/3 of its lifetime", () => {
  const kept = plan(GOOD, at(59));
  assert.equal(kept.action, "keep");
  assert.ok(kept.action === "keep");
  assert.equal(kept.pair.certPem, serving.certPem);
  assert.equal(kept.renewAt.getTime(), at(60).getTime());
  assert.deepEqual(plan(GOOD, at(60)), {
    action: "issueServing",
    reason: "the serving certificate is due for renewal",
  });
});

Deno.test("planServingSecret() issues a CA when the Secret or its CA is missing, bad or due", async () => {
  assert.deepEqual(plan(undefined), { action: "issueCa", reason: "the Secret does not exist" });
  const other = await generateCa("other", { now: T0, validityMs: DAY });
  for (const contents of [{ ...GOOD, caKeyPem: undefined }, { ...GOOD, caKeyPem: other.keyPem }]) {
    assert.deepEqual(plan(contents), {
      action: "issueCa",
      reason: "the CA certificate or key is missing or invalid",
    });
  }
  assert.deepEqual(plan(GOOD, at(200)), { action: "issueCa", reason: "the CA is due for renewal" });
});

Deno.test("planServingSecret() reissues a serving certificate that is missing, foreign or too narrow", async () => {
  const missing = plan({ ...GOOD, certPem: undefined });
  assert.equal(missing.action, "issueServing");
  assert.match(missing.action === "issueServing" ? missing.reason : "", /^tls\.crt\/tls\.key: /);

  const other = await generateCa("other", { now: T0, validityMs: 300 * DAY });
  const foreign = await generateServingCert(other, NAMES, { now: T0, validityMs: 90 * DAY });
  assert.deepEqual(plan({ ...GOOD, certPem: foreign.certPem, keyPem: foreign.keyPem }), {
    action: "issueServing",
    reason: "the serving certificate is not signed by the CA",
  });

  const wider = { dnsNames: [...NAMES.dnsNames, "localhost"], ipAddresses: ["127.0.0.1", "::1"] };
  assert.deepEqual(plan(GOOD, at(1), wider), {
    action: "issueServing",
    reason: "the serving certificate does not cover DNS:localhost, IP:::1",
  });
});

Deno.test("planServingSecret() renews at the CA's renewal time when it comes first", async () => {
  const shortCa = await generateCa("short", { now: T0, validityMs: 30 * DAY });
  const leaf = await generateServingCert(shortCa, NAMES, { now: T0, validityMs: 30 * DAY });
  const kept = plan({ caBundlePem: shortCa.certPem, caKeyPem: shortCa.keyPem, ...leaf }, at(1));
  assert.ok(kept.action === "keep");
  assert.equal(kept.renewAt.getTime(), at(20).getTime());
});

Deno.test("validCas() keeps the bundle's CAs that have not expired, in order", async () => {
  const old = await generateCa("old", { now: T0, validityMs: 10 * DAY });
  const bundle = ca.certPem + old.certPem;
  assert.equal(splitPemBundle(bundle).length, 2);
  assert.deepEqual(validCas(bundle, at(5)), [ca.certPem, old.certPem]);
  assert.deepEqual(validCas(bundle, at(11)), [ca.certPem]);
});

Deno.test("planServingSecret() serves the previous CA's certificate until the new CA has propagated", async () => {
  const newCa = await generateCa("new", { now: at(200), validityMs: 300 * DAY });
  const late = await generateServingCert(ca, NAMES, { now: at(150), validityMs: 90 * DAY });
  const rolled: SecretContents = {
    caBundlePem: newCa.certPem + ca.certPem,
    caKeyPem: newCa.keyPem,
    ...late,
  };
  const kept = plan(rolled, new Date(at(200).getTime() + 1000));
  assert.ok(kept.action === "keep");
  assert.equal(kept.pair.certPem, late.certPem);
  assert.equal(kept.renewAt.getTime(), at(201).getTime());
  assert.deepEqual(plan(rolled, at(201)), {
    action: "issueServing",
    reason: "the serving certificate is not signed by the CA",
  });
});
