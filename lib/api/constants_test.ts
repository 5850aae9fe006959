import assert from "node:assert/strict";
import {
  claimAnnotationKey,
  hostPortNameForClaim,
  portAnnotationKey,
  portNameOfClaimAnnotation,
} from "./constants.ts";

Deno.test("hostPortNameForClaim() prefixes the claim uid with hpc-", () => {
  const uid = "3f2c9a10-5b7e-4f7c-9d51-0c4e2b8a6d11";
  assert.equal(hostPortNameForClaim(uid), `hpc-${uid}`);
  assert.equal(hostPortNameForClaim(uid).length, 40);
});

Deno.test("claimAnnotationKey() and portAnnotationKey() build the original annotation keys", () => {
  assert.equal(claimAnnotationKey("web"), "claim.hostport.rmb938.com/web");
  assert.equal(portAnnotationKey("web"), "port.hostport.rmb938.com/web");
});

Deno.test("portNameOfClaimAnnotation() returns the port name of claim annotations only", () => {
  assert.equal(portNameOfClaimAnnotation("claim.hostport.rmb938.com/dns-udp"), "dns-udp");
  assert.equal(portNameOfClaimAnnotation("claim.hostport.rmb938.com/"), "");
  assert.equal(portNameOfClaimAnnotation("port.hostport.rmb938.com/web"), undefined);
  assert.equal(portNameOfClaimAnnotation("hostport.rmb938.com/web"), undefined);
});
