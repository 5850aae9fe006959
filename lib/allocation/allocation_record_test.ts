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
  AllocationRecord,
  AllocationRecordError,
  AllocationRecordFormatError,
  classifyWriteError,
  decodeRecordData,
  encodeRecordData,
  RECORD_FORMAT_VERSION,
} from "./allocation_record.ts";
import { FakeRecordStore, timeoutError } from "../../tests/fake_record_store.ts";

function recordOver(store: FakeRecordStore): AllocationRecord {
  return new AllocationRecord(store, { sleep: () => Promise.resolve() });
}

function tooManyRequests(): KubeApiError {
  return new KubeApiError({ code: 429, reason: "TooManyRequests", message: "slow down" });
}

Deno.test("reserve() creates a missing record and reports the port reserved", async () => {
  const store = new FakeRecordStore();
  const record = recordOver(store);
  assert.deepEqual(await record.reserve(9000), { ok: true });
  assert.deepEqual(store.ports(), [9000]);
  assert.equal(record.has(9000), true);
  assert.equal(store.writes.length, 1);
});

Deno.test("reserve() calls made in one tick share one write", async () => {
  const store = new FakeRecordStore();
  const record = recordOver(store);
  const ports = Array.from({ length: 50 }, (_, i) => 9000 + i);
  const outcomes = await Promise.all(ports.map((port) => record.reserve(port)));
  assert.ok(outcomes.every((outcome) => outcome.ok));
  assert.deepEqual(store.ports(), ports);
  assert.equal(store.writes.length, 1);
});

Deno.test("reserve() calls that arrive while a write is in flight go into the next write", async () => {
  const store = new FakeRecordStore();
  const record = recordOver(store);
  await record.reserve(8000);
  const gate = Promise.withResolvers<void>();
  store.writeGate = gate.promise;
  const first = record.reserve(9000);
  await new Promise((resolve) => setTimeout(resolve, 0)); // the write of 9000 is now in flight
  const later = [9001, 9002, 9003].map((port) => record.reserve(port));
  gate.resolve();
  assert.deepEqual(await first, { ok: true });
  assert.ok((await Promise.all(later)).every((outcome) => outcome.ok));
  assert.equal(store.writes.length, 3); // 8000; 9000; then 9001-9003 together
  assert.deepEqual(store.ports(), [8000, 9000, 9001, 9002, 9003]);
});

Deno.test("reserve() reports taken for a port the record already holds, without writing", async () => {
  const store = new FakeRecordStore();
  store.set([9000]);
  const record = recordOver(store);
  assert.deepEqual(await record.reserve(9000), { ok: false, reason: "taken" });
  assert.equal(store.writes.length, 0);
});

Deno.test("reserve() re-reads after a conflict and re-applies the batch on the fresh record", async () => {
  const store = new FakeRecordStore();
  const record = recordOver(store);
  await record.reserve(9000);
  store.set([9000, 9001, 9005], "other/7"); // another process wrote meanwhile
  const [a, b] = await Promise.all([record.reserve(9001), record.reserve(9002)]);
  assert.deepEqual(a, { ok: false, reason: "taken" });
  assert.deepEqual(b, { ok: true });
  assert.deepEqual(store.ports(), [9000, 9001, 9002, 9005]);
  assert.equal(store.writes.length, 3); // 9000; 9002 refused with a conflict; 9002 again
});

Deno.test("reserve() retries refused writes with backoff, then commits", async () => {
  const store = new FakeRecordStore();
  store.script.push({ on: "write", error: tooManyRequests() }, {
    on: "write",
    error: tooManyRequests(),
  });
  const record = recordOver(store);
  assert.deepEqual(await record.reserve(9000), { ok: true });
  assert.deepEqual(store.ports(), [9000]);
  assert.equal(store.writes.length, 3); // two refused, then the one that lands
});

Deno.test("reserve() rejects with AllocationRecordError when every attempt is refused", async () => {
  const store = new FakeRecordStore();
  for (let i = 0; i < 6; i++) store.script.push({ on: "write", error: tooManyRequests() });
  const record = recordOver(store);
  await assert.rejects(record.reserve(9000), AllocationRecordError);
  assert.deepEqual(store.ports(), []);
});

Deno.test("reserve() is ok when a timed-out write is proven landed by the record's writeId", async () => {
  const store = new FakeRecordStore();
  store.script.push({ on: "write", error: timeoutError(), land: true });
  const record = recordOver(store);
  assert.deepEqual(await record.reserve(9000), { ok: true });
  assert.deepEqual(store.ports(), [9000]);
  assert.equal(store.writes.length, 1);
});

Deno.test("reserve() re-applies after a timed-out write that did not land", async () => {
  const store = new FakeRecordStore();
  store.script.push({ on: "write", error: timeoutError() });
  const record = recordOver(store);
  assert.deepEqual(await record.reserve(9000), { ok: true });
  assert.deepEqual(store.ports(), [9000]);
  assert.equal(store.writes.length, 2);
});

Deno.test("reserve() reports unknown, never taken, when a timed-out write may have landed", async () => {
  const store = new FakeRecordStore();
  const record = recordOver(store);
  await record.reserve(8000);
  // The write lands, then another process writes, so the writeId no longer proves it was ours.
  const otherWrites = () => store.set(store.ports(), "other/9");
  store.script.push({ on: "write", error: timeoutError(), land: true, then: otherWrites });
  assert.deepEqual(await record.reserve(9000), { ok: false, reason: "unknown" });
  assert.deepEqual(store.ports(), [8000, 9000]); // kept reserved: repair frees it later
});

Deno.test("reserve() re-applies a maybe-landed reservation that the fresh record shows free", async () => {
  const store = new FakeRecordStore();
  const record = recordOver(store);
  await record.reserve(8000);
  // The write does not land, and another process writes before we re-read.
  store.script.push({ on: "write", error: timeoutError() });
  const reserve = record.reserve(9000);
  store.set([8000, 7000], "other/2");
  assert.deepEqual(await reserve, { ok: true });
  assert.deepEqual(store.ports(), [7000, 8000, 9000]);
});

Deno.test("release() leaves alone a port reserved again after its maybe-landed release", async () => {
  const store = new FakeRecordStore();
  const record = recordOver(store);
  await record.reserve(9000);
  // The release lands, then another process reserves 9000 before we re-read.
  const otherReserves = () => store.set([9000], "other/3");
  store.script.push({ on: "write", error: timeoutError(), land: true, then: otherReserves });
  assert.deepEqual(await record.release(9000), { ok: false, reason: "unknown" });
  assert.deepEqual(store.ports(), [9000]); // the other process's reservation survives
});

Deno.test("release() is ok when a timed-out release is proven landed", async () => {
  const store = new FakeRecordStore();
  const record = recordOver(store);
  await record.reserve(9000);
  store.script.push({ on: "write", error: timeoutError(), land: true });
  assert.deepEqual(await record.release(9000), { ok: true });
  assert.deepEqual(store.ports(), []);
});

Deno.test("reserve() settles as unknown, not rejected, when retries run out after a timeout", async () => {
  const store = new FakeRecordStore();
  const record = recordOver(store);
  await record.refresh();
  store.script.push({ on: "write", error: timeoutError() });
  for (let i = 0; i < 6; i++) store.script.push({ on: "read", error: timeoutError() });
  assert.deepEqual(await record.reserve(9000), { ok: false, reason: "unknown" });
});

Deno.test("reserve() rejects only the calls that cannot have landed when retries run out", async () => {
  const store = new FakeRecordStore();
  let second: Promise<unknown> | undefined;
  const record: AllocationRecord = new AllocationRecord(store, {
    // While the batch backs off after the timed-out write, a second call joins it.
    sleep: () => {
      second ??= record.reserve(9001);
      return Promise.resolve();
    },
  });
  await record.refresh();
  store.script.push({ on: "write", error: timeoutError() });
  for (let i = 0; i < 6; i++) store.script.push({ on: "read", error: timeoutError() });
  assert.deepEqual(await record.reserve(9000), { ok: false, reason: "unknown" });
  assert.ok(second);
  await assert.rejects(second, AllocationRecordError);
  assert.deepEqual(store.ports(), []);
});

Deno.test("reserve() rejects on a record it cannot read and never overwrites it", async () => {
  const store = new FakeRecordStore();
  store.script.push({
    on: "read",
    error: new AllocationRecordFormatError('its format version is "9"'),
  });
  const record = recordOver(store);
  await assert.rejects(record.reserve(9000), AllocationRecordError);
  assert.equal(store.writes.length, 0);
});

Deno.test("reserve() refuses to re-create a record deleted while in use", async () => {
  const store = new FakeRecordStore();
  const record = recordOver(store);
  await record.reserve(9000);
  store.delete();
  await assert.rejects(record.reserve(9001), /the allocation record was deleted/);
  assert.equal(store.stored, undefined);
  assert.equal(record.missing, true);
});

Deno.test("recreate() rebuilds a record deleted while in use with the given ports", async () => {
  const store = new FakeRecordStore();
  const record = recordOver(store);
  await record.reserve(9000);
  store.delete();
  await assert.rejects(record.reserve(9001));
  assert.equal(await record.recreate([9000, 9002]), true);
  assert.deepEqual(store.ports(), [9000, 9002]);
  assert.equal(record.missing, false);
  assert.deepEqual(await record.reserve(9003), { ok: true });
  assert.deepEqual(store.ports(), [9000, 9002, 9003]);
});

Deno.test("recreate() never overwrites a record someone else re-created", async () => {
  const store = new FakeRecordStore();
  const record = recordOver(store);
  await record.reserve(9000);
  store.delete();
  await assert.rejects(record.reserve(9001));
  await recordOver(store).reserve(9005); // a rival process creates it afresh
  assert.equal(await record.recreate([9000]), false);
  assert.deepEqual(store.ports(), [9005]);
});

Deno.test("release() of a port that is not reserved succeeds without a write", async () => {
  const store = new FakeRecordStore();
  store.set([9000]);
  const record = recordOver(store);
  assert.deepEqual(await record.release(9001), { ok: true });
  assert.equal(store.writes.length, 0);
  assert.deepEqual(await record.release(9000), { ok: true });
  assert.deepEqual(store.ports(), []);
});

Deno.test("version and releasedSince() follow own commits and other writers' changes seen on re-read", async () => {
  const store = new FakeRecordStore();
  const record = recordOver(store);
  const start = record.version;
  await record.reserve(9000);
  store.set([9000, 9007]);
  await record.refresh();
  const afterRead = record.version;
  assert.equal(afterRead, start + 2);
  await record.refresh(); // nothing changed
  assert.equal(record.version, afterRead);
  await record.release(9000);
  store.set([9000, 9007]); // ...and someone reserves it anew
  await record.refresh();
  assert.deepEqual(record.releasedSince(start), [9000]);
  assert.deepEqual(record.releasedSince(record.version), []);
  assert.deepEqual(record.reserved().toArray(), [9000, 9007]);
});

Deno.test("refresh() reads the record now, and reads a missing record as empty", async () => {
  const store = new FakeRecordStore();
  const record = recordOver(store);
  assert.deepEqual((await record.refresh()).toArray(), []);
  store.set([10, 20]);
  assert.deepEqual((await record.refresh()).toArray(), [10, 20]);
  assert.deepEqual(record.reserved().toArray(), [10, 20]);
});

Deno.test("reserve() throws RangeError for a value that is not a port", () => {
  const record = recordOver(new FakeRecordStore());
  assert.throws(() => record.reserve(0), RangeError);
  assert.throws(() => record.release(65536), RangeError);
});

Deno.test("two records on one store never both reserve a port", async () => {
  const store = new FakeRecordStore();
  const a = recordOver(store);
  const b = recordOver(store);
  const ports = Array.from({ length: 40 }, (_, i) => 9000 + (i % 20));
  const [ra, rb] = await Promise.all([
    Promise.all(ports.map((port) => a.reserve(port))),
    Promise.all(ports.toReversed().map((port) => b.reserve(port))),
  ]);
  const won = new Map<number, number>();
  ports.forEach((port, i) => ra[i]?.ok && won.set(port, (won.get(port) ?? 0) + 1));
  ports.toReversed().forEach((port, i) => rb[i]?.ok && won.set(port, (won.get(port) ?? 0) + 1));
  assert.ok([...won.values()].every((count) => count === 1));
  assert.deepEqual([...won.keys()].sort((x, y) => x - y), store.ports());
});

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
