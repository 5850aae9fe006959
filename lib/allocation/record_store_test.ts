import assert from "node:assert/strict";
import {
  AlreadyExistsError,
  ConflictError,
  ForbiddenError,
  KubeApiError,
  KubeConnectionError,
  KubeRequestTimeoutError,
  NotFoundError,
} from "../kube/mod.ts";
import { PortBitmap } from "../allocator/port_bitmap.ts";
import {
  AllocationRecordFormatError,
  classifyWriteError,
  decodeRecordData,
  encodeRecordData,
  RECORD_FORMAT_VERSION,
} from "./record_store.ts";

const request = { method: "PUT", path: "/api/v1/namespaces/ops/configmaps/x" };

function status(code: number, reason: string) {
  return { code, reason, message: reason };
}

Deno.test("classifyWriteError() tells conflicts, refusals and unknown outcomes apart", () => {
  const cases: [unknown, string][] = [
    [new ConflictError(status(409, "Conflict")), "conflict"],
    [new AlreadyExistsError(status(409, "AlreadyExists")), "conflict"],
    [new NotFoundError(status(404, "NotFound")), "conflict"],
    [new ForbiddenError(status(403, "Forbidden")), "refused"],
    [new KubeApiError(status(429, "TooManyRequests")), "refused"],
    [new KubeApiError(status(504, "Timeout")), "unknown"],
    [new KubeApiError(status(500, "InternalError")), "unknown"],
    [new KubeRequestTimeoutError(request, 30_000), "unknown"],
    [new KubeConnectionError("https://127.0.0.1:1", request, new Error("reset")), "unknown"],
    [new TypeError("Cannot use a ConfigMap without a resourceVersion"), "unknown"],
  ];
  for (const [error, expected] of cases) {
    assert.equal(classifyWriteError(error), expected, String(error));
  }
});

Deno.test("encodeRecordData() writes the version, bitmap, count and writeId", () => {
  const data = encodeRecordData({ bits: PortBitmap.of([9000, 9001]), writeId: "a1/3" });
  assert.equal(data.formatVersion, RECORD_FORMAT_VERSION);
  assert.equal(data.reservedCount, "2");
  assert.equal(data.writeId, "a1/3");
  const decoded = decodeRecordData(data);
  assert.deepEqual(decoded.bits.toArray(), [9000, 9001]);
  assert.equal(decoded.writeId, "a1/3");
});

Deno.test("decodeRecordData() refuses missing keys, unknown versions and bad bitmaps", () => {
  const good = encodeRecordData({ bits: PortBitmap.of([1]), writeId: undefined });
  const cases: [unknown, RegExp][] = [
    [undefined, /data is malformed: formatVersion, reserved/],
    [{ ...good, formatVersion: "2" }, /format version is "2"/],
    [{ ...good, reserved: "AAAA" }, /bitmap is malformed/],
    [{ formatVersion: "1" }, /data is malformed: reserved/],
  ];
  for (const [data, message] of cases) {
    assert.throws(() => decodeRecordData(data), AllocationRecordFormatError);
    assert.throws(() => decodeRecordData(data), message);
  }
});

/** The bitmap as records written before the two bitmaps became one laid it out, byte by byte. */
function legacyReserved(ports: readonly number[]): string {
  const bytes = new Uint8Array(8192);
  for (const port of ports) bytes[port >>> 3]! |= 1 << (port & 7);
  return btoa(String.fromCharCode(...bytes));
}

Deno.test("decodeRecordData() reads records written by the earlier byte bitmap, and writes them alike", async () => {
  const ports = [1, 7, 8, 31, 32, 9000, 9500, 9600, 65535];
  const legacy = legacyReserved(ports);
  const decoded = decodeRecordData({ formatVersion: "1", reserved: legacy, reservedCount: "9" });
  assert.deepEqual(decoded.bits.toArray(), ports);
  const written = encodeRecordData({ bits: PortBitmap.of(ports), writeId: undefined }).reserved!;
  assert.equal(written, legacy);
  // The exact text the earlier code (lib/allocation/port_bits.ts) wrote for these ports.
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(written));
  assert.equal(
    Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join(""),
    "e11ab19e4fdad584b57b8e6e49cccb5d463034628ec53bc1a7e50b35a14cb892",
  );
});

Deno.test("decodeRecordData() refuses a bitmap that is not base64, not 8 KiB, or reserves port 0", () => {
  const data = (reserved: string) => ({ formatVersion: "1", reserved });
  assert.throws(() => decodeRecordData(data("not base64!")), /not base64/);
  assert.throws(() => decodeRecordData(data(btoa("short"))), /must be 8192 bytes: got 5/);
  const withPortZero = new Uint8Array(8192);
  withPortZero[0] = 1;
  assert.throws(
    () => decodeRecordData(data(btoa(String.fromCharCode(...withPortZero)))),
    /port 0 is set/,
  );
});
