import assert from "node:assert/strict";
import { z } from "zod";
import { POD_RESOURCE } from "./builtin_resources.ts";
import { HOST_PORT_CLAIM_RESOURCE, HOST_PORT_CLASS_RESOURCE } from "./hostport_resources.ts";
import { decodeLeniently, defineResource, KubeDecodeError, resourcePath } from "./resource.ts";

Deno.test("resourcePath() builds core, group, namespaced and subresource paths", () => {
  assert.equal(resourcePath(POD_RESOURCE), "/api/v1/pods");
  assert.equal(resourcePath(POD_RESOURCE, { namespace: "a" }), "/api/v1/namespaces/a/pods");
  assert.equal(resourcePath(POD_RESOURCE, { namespace: "" }), "/api/v1/pods");
  assert.equal(
    resourcePath(HOST_PORT_CLAIM_RESOURCE, { namespace: "a", name: "web", subresource: "status" }),
    "/apis/hostport.rmb938.com/v1alpha1/namespaces/a/hostportclaims/web/status",
  );
  assert.equal(
    resourcePath(HOST_PORT_CLASS_RESOURCE, { name: "games" }),
    "/apis/hostport.rmb938.com/v1alpha1/hostportclasses/games",
  );
});

Deno.test("resourcePath() refuses a scope mismatch", () => {
  assert.throws(() => resourcePath(HOST_PORT_CLASS_RESOURCE, { namespace: "a" }), {
    name: "TypeError",
    message: 'Cannot address HostPortClass in namespace "a" as it is cluster-scoped',
  });
  assert.throws(() => resourcePath(POD_RESOURCE, { name: "p" }), {
    message: 'Cannot address Pod "p" as its namespace is missing',
  });
  assert.throws(
    () => resourcePath(POD_RESOURCE, { namespace: "a", subresource: "status" }),
    TypeError,
  );
});

Deno.test("resourcePath() escapes names", () => {
  assert.equal(
    resourcePath(POD_RESOURCE, { namespace: "a", name: "x/y" }),
    "/api/v1/namespaces/a/pods/x%2Fy",
  );
});

Deno.test("ResourceDescriptor.decode() fills in apiVersion and kind of list items", () => {
  const pod = POD_RESOURCE.decode({ metadata: { name: "p", namespace: "a" } });
  assert.equal(pod.apiVersion, "v1");
  assert.equal(pod.kind, "Pod");
  assert.throws(() => POD_RESOURCE.decode({ metadata: {} }), KubeDecodeError);
  assert.throws(() => POD_RESOURCE.decode("x"), {
    message: 'Cannot decode Pod "": it is not an object',
  });
});

Deno.test("ResourceDescriptor.decode() validates with the schema and names the bad field", () => {
  const widget = defineResource({
    group: "example.com",
    version: "v1",
    kind: "Widget",
    plural: "widgets",
    namespaced: false,
    schema: z.object({
      metadata: z.object({ name: z.string() }),
      spec: z.object({ size: z.number() }),
    }),
  });
  assert.equal(widget.apiVersion, "example.com/v1");
  assert.throws(() => widget.decode({ metadata: { name: "w" }, spec: { size: "big" } }), {
    name: "KubeDecodeError",
    message: 'Cannot decode Widget "w": spec.size: Invalid input: expected number, received string',
  });
});

Deno.test("HOST_PORT_CLAIM_RESOURCE.decode() validates with the lib/api parser", () => {
  const claim = HOST_PORT_CLAIM_RESOURCE.decode({
    metadata: { name: "web", namespace: "a" },
    spec: { hostPortClassName: "games" },
  });
  assert.equal(claim.kind, "HostPortClaim");
  assert.equal(claim.spec.hostPortClassName, "games");
  assert.throws(
    () => HOST_PORT_CLAIM_RESOURCE.decode({ metadata: { name: "web", namespace: "a" }, spec: {} }),
    (error: unknown) =>
      error instanceof KubeDecodeError && error.message.includes("spec.hostPortClassName"),
  );
});

Deno.test("decodeLeniently() returns an object that does not decode as a value", () => {
  const good = decodeLeniently(HOST_PORT_CLASS_RESOURCE, {
    metadata: { name: "c" },
    spec: { pools: [{ start: 9000, end: 9009 }] },
  });
  assert.equal(good.ok && good.object.kind, "HostPortClass");
  const bad = decodeLeniently(HOST_PORT_CLASS_RESOURCE, { metadata: { name: "nospec" } });
  assert.equal(bad.ok, false);
  if (bad.ok) return;
  assert.equal(bad.undecodable.raw.kind, "HostPortClass", "kind filled in");
  assert.ok(bad.undecodable.error instanceof KubeDecodeError);
  assert.match(bad.undecodable.error.message, /^Cannot decode HostPortClass "nospec": spec/);
  assert.throws(() => decodeLeniently(HOST_PORT_CLASS_RESOURCE, "nope"), KubeDecodeError);
});

Deno.test("decodeLeniently() leaves metadata.managedFields out of listed objects", () => {
  const listed = {
    metadata: { name: "games", managedFields: [{ manager: "kubectl" }], labels: { a: "b" } },
    spec: { pools: [{ start: 9000, end: 9001 }] },
  };
  const decoded = decodeLeniently(HOST_PORT_CLASS_RESOURCE, listed);
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.object.metadata, { name: "games", labels: { a: "b" } });
  assert.deepEqual(decoded.object.spec.pools, [{ start: 9000, end: 9001 }]);
  assert.deepEqual(listed.metadata.managedFields, [{ manager: "kubectl" }], "input untouched");
});
