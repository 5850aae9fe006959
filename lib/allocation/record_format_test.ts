import assert from "node:assert/strict";
import { portBitsOf, portsOf } from "./port_bits.ts";
import {
  AllocationRecordFormatError,
  decodeRecordData,
  encodeRecordData,
  RECORD_FORMAT_VERSION,
} from "./record_format.ts";

Deno.test("encodeRecordData() writes the version, bitmap, count and writeId", () => {
  const data = encodeRecordData({ bits: portBitsOf([9000, 9001]), writeId: "a1/3" });
  assert.equal(data.formatVersion, RECORD_FORMAT_VERSION);
  assert.equal(data.reservedCount, "2");
  assert.equal(data.writeId, "a1/3");
  const decoded = decodeRecordData(data);
  assert.deepEqual(portsOf(decoded.bits), [9000, 9001]);
  assert.equal(decoded.writeId, "a1/3");
});

Deno.test("decodeRecordData() refuses missing keys, unknown versions and bad bitmaps", () => {
  const good = encodeRecordData({ bits: portBitsOf([1]), writeId: undefined });
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
