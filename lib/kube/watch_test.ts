import assert from "node:assert/strict";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { POD_RESOURCE } from "./builtin_resources.ts";
import { GoneError, KubeApiError } from "./errors.ts";
import { KubeDecodeError } from "./resource.ts";
import type { JsonValue } from "./rest_contract.ts";
import { decodeWatchEvent, decodeWatchStream, type WatchEvent } from "./watch.ts";

const decode = (v: unknown) => POD_RESOURCE.decode(v);
const pod = (name: string, rv: string) => ({
  metadata: { name, namespace: "a", resourceVersion: rv },
});

Deno.test("decodeWatchEvent() decodes object events, bookmarks and errors", () => {
  const added = decodeWatchEvent({ type: "ADDED", object: pod("p", "5") }, decode);
  assert.equal(added.type === "ADDED" && added.object.kind, "Pod");
  const bookmark = decodeWatchEvent(
    {
      type: "BOOKMARK",
      object: { kind: "Pod", apiVersion: "v1", metadata: { resourceVersion: "9" } },
    },
    decode,
  );
  assert.deepEqual(bookmark, { type: "BOOKMARK", resourceVersion: "9" });
  const error = decodeWatchEvent(
    {
      type: "ERROR",
      object: { kind: "Status", code: 500, reason: "InternalError", message: "boom" },
    },
    decode,
  );
  assert.ok(
    error.type === "ERROR" && error.error instanceof KubeApiError && error.error.code === 500,
  );
});

Deno.test("decodeWatchEvent() rejects a line that is not a watch event", () => {
  assert.throws(() => decodeWatchEvent({ type: "NOPE", object: {} }, decode), SyntaxError);
  assert.throws(
    () => decodeWatchEvent({ type: "BOOKMARK", object: { metadata: {} } }, decode),
    SyntaxError,
  );
});

function streamOf(values: JsonValue[]): ReadableStream<JsonValue> {
  return ReadableStream.from(values);
}

Deno.test("decodeWatchStream() yields events until the stream ends", async () => {
  const events: WatchEvent<Pod>[] = await Array.fromAsync(
    decodeWatchStream(
      streamOf([
        { type: "ADDED", object: pod("p", "1") },
        { type: "MODIFIED", object: pod("p", "2") },
        { type: "DELETED", object: pod("p", "3") },
      ]),
      decode,
    ),
  );
  assert.deepEqual(events.map((e) => e.type), ["ADDED", "MODIFIED", "DELETED"]);
});

Deno.test("decodeWatchStream() throws GoneError for a 410 ERROR event", async () => {
  const iterate = Array.fromAsync(
    decodeWatchStream(
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
      decode,
    ),
  );
  await assert.rejects(iterate, (error: unknown) => {
    assert.ok(error instanceof GoneError);
    assert.equal(error.reason, "Expired");
    return true;
  });
});

Deno.test("decodeWatchStream() cancels the stream when the consumer leaves early", async () => {
  let cancelled = false;
  const stream = new ReadableStream<JsonValue>({
    pull(controller) {
      controller.enqueue({ type: "ADDED", object: pod("p", "1") });
    },
    cancel() {
      cancelled = true;
    },
  });
  for await (const _event of decodeWatchStream(stream, decode)) break;
  assert.equal(cancelled, true);
});

Deno.test("decodeWatchStream() cancels the stream and throws the reason when the signal aborts", async () => {
  let cancelled: unknown;
  const stream = new ReadableStream<JsonValue>({
    start(controller) {
      controller.enqueue({ type: "ADDED", object: pod("p", "1") });
    },
    cancel(reason) {
      cancelled = reason;
    },
  });
  const abort = new AbortController();
  const seen: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const event of decodeWatchStream(stream, decode, { signal: abort.signal })) {
        seen.push(event.type);
        abort.abort(new Error("stop now")); // the stream itself never errors or ends
      }
    })(),
    { message: "stop now" },
  );
  assert.deepEqual(seen, ["ADDED"]);
  assert.equal((cancelled as Error).message, "stop now");
});

Deno.test("decodeWatchEvent() turns an object that does not decode into an UNDECODABLE event", () => {
  const nameless = { kind: "Pod", apiVersion: "v1", metadata: { resourceVersion: "7" } };
  const event = decodeWatchEvent({ type: "MODIFIED", object: nameless }, decode);
  assert.equal(event.type, "UNDECODABLE");
  if (event.type !== "UNDECODABLE") return;
  assert.equal(event.eventType, "MODIFIED");
  assert.equal(event.resourceVersion, "7");
  assert.deepEqual(event.raw, nameless);
  assert.ok(event.error instanceof KubeDecodeError);
  assert.equal(event.error.message, 'Cannot decode Pod "": metadata.name is missing');
});

Deno.test("decodeWatchStream() goes on after an object that does not decode", async () => {
  const events = await Array.fromAsync(
    decodeWatchStream(
      streamOf([
        { type: "ADDED", object: { metadata: { resourceVersion: "1" } } },
        { type: "ADDED", object: pod("p", "2") },
      ]),
      decode,
    ),
  );
  assert.deepEqual(events.map((e) => e.type), ["UNDECODABLE", "ADDED"]);
});
