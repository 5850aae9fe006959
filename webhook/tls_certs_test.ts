import assert from "node:assert/strict";
import { generateCa, generateServingCert } from "./tls_certs.ts";
import { inspectPair, isSignedBy } from "./tls_source.ts";

const NOW = new Date("2030-01-01T00:00:00Z");
const DAY = 86_400_000;

Deno.test("generateServingCert() issues a certificate for every name, signed by the CA", async () => {
  const ca = await generateCa("hostport-allocator-ca", { now: NOW, validityMs: 365 * DAY });
  const serving = await generateServingCert(ca, {
    dnsNames: ["hostport.system.svc", "hostport.system.svc.cluster.local"],
    ipAddresses: ["127.0.0.1"],
  }, { now: NOW, validityMs: 30 * DAY, backdateMs: 60_000 });

  const inspected = inspectPair(serving.certPem, serving.keyPem);
  assert.ok(inspected.ok, inspected.ok ? "" : inspected.reason);
  assert.deepEqual(inspected.pair.subjectAltNames, [
    "DNS:hostport.system.svc",
    "DNS:hostport.system.svc.cluster.local",
    "IP:127.0.0.1",
  ]);
  assert.equal(inspected.pair.notBefore.getTime(), NOW.getTime() - 60_000);
  assert.equal(inspected.pair.notAfter.getTime(), NOW.getTime() + 30 * DAY);
  assert.ok(isSignedBy(serving.certPem, ca.certPem));
});

Deno.test("isSignedBy() is false for a certificate of another CA", async () => {
  const validity = { now: NOW, validityMs: DAY };
  const ca = await generateCa("one", validity);
  const other = await generateCa("two", validity);
  const serving = await generateServingCert(other, { dnsNames: ["a"], ipAddresses: [] }, validity);
  assert.equal(isSignedBy(serving.certPem, ca.certPem), false);
  assert.equal(isSignedBy("not a certificate", ca.certPem), false);
});

Deno.test("inspectPair() refuses a key of another certificate and unparsable input", async () => {
  const validity = { now: NOW, validityMs: DAY };
  const ca = await generateCa("ca", validity);
  const first = await generateServingCert(ca, { dnsNames: ["a"], ipAddresses: [] }, validity);
  const second = await generateServingCert(ca, { dnsNames: ["a"], ipAddresses: [] }, validity);

  assert.deepEqual(inspectPair(first.certPem, second.keyPem), {
    ok: false,
    reason: "the private key does not match the certificate",
  });
  const badCert = inspectPair("garbage", first.keyPem);
  assert.ok(!badCert.ok && badCert.reason.startsWith("the certificate cannot be parsed"));
  const badKey = inspectPair(first.certPem, "garbage");
  assert.ok(!badKey.ok && badKey.reason.startsWith("the private key cannot be parsed"));
});

Deno.test("generateServingCert() refuses to issue a certificate without names", async () => {
  const ca = await generateCa("ca", { now: NOW, validityMs: DAY });
  await assert.rejects(
    generateServingCert(ca, { dnsNames: [], ipAddresses: [] }, { now: NOW, validityMs: DAY }),
    RangeError,
  );
});
