import assert from "node:assert/strict";
import { z } from "zod";
import { HOST_PORT_CLAIM_RESOURCE, HOST_PORT_CLASS_RESOURCE, POD_RESOURCE } from "./resource.ts";
import {
  decodeLeniently,
  decodeWatchEvent,
  defineResource,
  KubeDecodeError,
  ResourceClient,
  resourcePath,
  type WatchEvent,
} from "./resource.ts";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { GoneError, KubeApiError } from "./rest_client.ts";
import type { RequestOptions, RestClient } from "./rest_client.ts";

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

const pod = (name: string, rv: string) => ({
  metadata: { name, namespace: "a", resourceVersion: rv },
});

Deno.test("decodeWatchEvent() decodes object events, bookmarks and errors", () => {
  const added = decodeWatchEvent({ type: "ADDED", object: pod("p", "5") }, POD_RESOURCE);
  assert.equal(added.type === "ADDED" && added.object.kind, "Pod");
  const bookmark = decodeWatchEvent(
    {
      type: "BOOKMARK",
      object: { kind: "Pod", apiVersion: "v1", metadata: { resourceVersion: "9" } },
    },
    POD_RESOURCE,
  );
  assert.deepEqual(bookmark, { type: "BOOKMARK", resourceVersion: "9" });
  const error = decodeWatchEvent(
    {
      type: "ERROR",
      object: { kind: "Status", code: 500, reason: "InternalError", message: "boom" },
    },
    POD_RESOURCE,
  );
  assert.ok(
    error.type === "ERROR" && error.error instanceof KubeApiError && error.error.code === 500,
  );
});

Deno.test("decodeWatchEvent() rejects a line that is not a watch event", () => {
  assert.throws(() => decodeWatchEvent({ type: "NOPE", object: {} }, POD_RESOURCE), SyntaxError);
  assert.throws(
    () => decodeWatchEvent({ type: "BOOKMARK", object: { metadata: {} } }, POD_RESOURCE),
    SyntaxError,
  );
});

/** Watches pods on a client whose watch answers `stream`. */
function watchOf(stream: AsyncIterable<unknown>, options: { abortSignal?: AbortSignal } = {}) {
  const rest = { performRequest: (_: RequestOptions) => Promise.resolve(stream) } as RestClient;
  return new ResourceClient<Pod>(rest, POD_RESOURCE).watch(options);
}

function streamOf(values: unknown[]): ReadableStream<unknown> {
  return ReadableStream.from(values);
}

Deno.test("ResourceClient.watch() yields events until the stream ends", async () => {
  const events: WatchEvent<Pod>[] = await Array.fromAsync(
    watchOf(
      streamOf([
        { type: "ADDED", object: pod("p", "1") },
        { type: "MODIFIED", object: pod("p", "2") },
        { type: "DELETED", object: pod("p", "3") },
      ]),
    ),
  );
  assert.deepEqual(events.map((e) => e.type), ["ADDED", "MODIFIED", "DELETED"]);
});

Deno.test("ResourceClient.watch() throws GoneError for a 410 ERROR event", async () => {
  const iterate = Array.fromAsync(
    watchOf(
      streamOf([
        { type: "ADDED", object: pod("p", "1") },
        {
          type: "ERROR",
          object: {
            kind: "Status",
            apiVersion: "v1",
            status: "Failure",
            code: 410,
            reason: "Expired",
            message: "too old resource version: 1 (5)",
          },
        },
      ]),
    ),
  );
  await assert.rejects(iterate, (error: unknown) => {
    assert.ok(error instanceof GoneError);
    assert.equal(error.reason, "Expired");
    return true;
  });
});

Deno.test("ResourceClient.watch() cancels the stream when the consumer leaves early", async () => {
  let cancelled = false;
  const stream = new ReadableStream<unknown>({
    pull(controller) {
      controller.enqueue({ type: "ADDED", object: pod("p", "1") });
    },
    cancel() {
      cancelled = true;
    },
  });
  for await (const _event of watchOf(stream)) break;
  assert.equal(cancelled, true);
});

Deno.test("ResourceClient.watch() throws the reason when the signal aborts, events still buffered", async () => {
  const stream = streamOf([
    { type: "ADDED", object: pod("p", "1") },
    { type: "MODIFIED", object: pod("p", "2") },
  ]);
  const abort = new AbortController();
  const seen: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const event of watchOf(stream, { abortSignal: abort.signal })) {
        seen.push(event.type);
        abort.abort(new Error("stop now"));
      }
    })(),
    { message: "stop now" },
  );
  assert.deepEqual(seen, ["ADDED"]);
});

Deno.test("decodeWatchEvent() turns an object that does not decode into an UNDECODABLE event", () => {
  const nameless = { kind: "Pod", apiVersion: "v1", metadata: { resourceVersion: "7" } };
  const event = decodeWatchEvent({ type: "MODIFIED", object: nameless }, POD_RESOURCE);
  assert.equal(event.type, "UNDECODABLE");
  if (event.type !== "UNDECODABLE") return;
  assert.equal(event.eventType, "MODIFIED");
  assert.equal(event.resourceVersion, "7");
  assert.deepEqual(event.raw, nameless);
  assert.ok(event.error instanceof KubeDecodeError);
  assert.equal(event.error.message, 'Cannot decode Pod "": metadata.name is missing');
});

Deno.test("ResourceClient.watch() goes on after an object that does not decode", async () => {
  const events = await Array.fromAsync(
    watchOf(
      streamOf([
        { type: "ADDED", object: { metadata: { resourceVersion: "1" } } },
        { type: "ADDED", object: pod("p", "2") },
      ]),
    ),
  );
  assert.deepEqual(events.map((e) => e.type), ["UNDECODABLE", "ADDED"]);
});
