/**
 * Decoding a watch response (one JSON event per line) into typed events. An `ERROR` event
 * with code 410 ends the iteration with a `GoneError` (the caller must relist); other
 * `ERROR` events are yielded with their typed error. An object that fails `decode` is yielded as
 * an `UNDECODABLE` event (with its resourceVersion) instead of ending the stream.
 *
 * @module
 */
import type { Status } from "kubernetes-types/meta/v1.d.ts";
import * as z from "zod";
import {
  GoneError,
  type KubeApiError,
  kubeApiErrorFromStatus,
  type RequestContext,
} from "./errors.ts";
import { KubeDecodeError, type KubeObject } from "./resource.ts";
import type { JsonValue } from "./rest_contract.ts";

/** One watch event. */
export type WatchEvent<T extends KubeObject> =
  | { type: "ADDED" | "MODIFIED" | "DELETED"; object: T }
  /** A progress marker: everything up to `resourceVersion` has been sent. */
  | { type: "BOOKMARK"; resourceVersion: string }
  /** The server reported a problem; the stream usually ends right after. */
  | { type: "ERROR"; status: Status; error: KubeApiError }
  /** An object event whose object does not match its kind; `raw` is the object as sent. */
  | {
    type: "UNDECODABLE";
    /** The event's type on the wire. */
    eventType: "ADDED" | "MODIFIED" | "DELETED";
    /** The object as the server sent it. */
    raw: Record<string, unknown>;
    /** Why it could not be decoded. */
    error: KubeDecodeError;
    /** The object's resourceVersion (`""` if it has none): a watch resumes after it. */
    resourceVersion: string;
  };

const RawEvent = z.object({
  type: z.enum(["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]),
  object: z.record(z.string(), z.unknown()),
});

const Bookmark = z.looseObject({
  metadata: z.looseObject({ resourceVersion: z.string().min(1) }),
});

/**
 * Turns one raw event into a typed one.
 *
 * @throws {SyntaxError} for a line that is not a watch event
 */
export function decodeWatchEvent<T extends KubeObject>(
  raw: unknown,
  decode: (value: unknown) => T,
  request?: RequestContext,
): WatchEvent<T> {
  const event = RawEvent.safeParse(raw);
  if (!event.success) {
    throw new SyntaxError(`Cannot decode a watch event: ${JSON.stringify(raw).slice(0, 200)}`);
  }
  const { type, object } = event.data;
  switch (type) {
    case "BOOKMARK": {
      const bookmark = Bookmark.safeParse(object);
      if (!bookmark.success) {
        throw new SyntaxError("Cannot decode a watch bookmark without resourceVersion");
      }
      return { type, resourceVersion: bookmark.data.metadata.resourceVersion };
    }
    case "ERROR": {
      const status = object as Status;
      return { type, status, error: kubeApiErrorFromStatus(status, request) };
    }
    default:
      try {
        return { type, object: decode(object) };
      } catch (error) {
        if (!(error instanceof KubeDecodeError)) throw error;
        return {
          type: "UNDECODABLE",
          eventType: type,
          raw: object,
          error,
          resourceVersion: rv(object),
        };
      }
  }
}

function rv(object: Record<string, unknown>): string {
  const metadata = object.metadata;
  if (typeof metadata !== "object" || metadata === null) return "";
  const version = (metadata as Record<string, unknown>).resourceVersion;
  return typeof version === "string" ? version : "";
}

/**
 * Iterates the typed events of a stream of parsed JSON lines. Leaving the loop early (or
 * an error) cancels the stream, which closes the connection. When `signal` aborts, the
 * stream is cancelled too (a second path besides fetch's own abort) and the iteration
 * throws the signal's reason.
 *
 * @throws {GoneError} when the server reports 410 (the resourceVersion is too old)
 */
export async function* decodeWatchStream<T extends KubeObject>(
  stream: ReadableStream<JsonValue>,
  decode: (value: unknown) => T,
  options: { request?: RequestContext; signal?: AbortSignal | undefined } = {},
): AsyncGenerator<WatchEvent<T>, void, undefined> {
  const reader = stream.getReader();
  const signal = options.signal;
  const onAbort = () => void reader.cancel(signal?.reason).catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    while (true) {
      if (signal?.aborted) throw signal.reason;
      const { done, value } = await reader.read();
      if (signal?.aborted) throw signal.reason;
      if (done) return;
      const event = decodeWatchEvent(value, decode, options.request);
      if (event.type === "ERROR" && event.error instanceof GoneError) throw event.error;
      yield event;
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    await reader.cancel().catch(() => {});
  }
}
