import assert from "node:assert/strict";
import { PORT_BITMAP_BYTES, PortBitmap } from "./port_bitmap.ts";

function bitmapOf(ports: Iterable<number>): PortBitmap {
  const bitmap = new PortBitmap();
  for (const port of ports) bitmap.set(port);
  return bitmap;
}

function range(start: number, end: number): number[] {
  return Array.from({ length: end - start + 1 }, (_, i) => start + i);
}

Deno.test("PortBitmap.set() and clear() report whether they changed the bit", () => {
  const bitmap = new PortBitmap();
  assert.equal(bitmap.set(65535), true);
  assert.equal(bitmap.set(65535), false);
  assert.equal(bitmap.has(65535), true);
  assert.equal(bitmap.size, 1);
  assert.equal(bitmap.clear(65535), true);
  assert.equal(bitmap.clear(65535), false);
  assert.equal(bitmap.has(65535), false);
  assert.equal(bitmap.size, 0);
});

const firstClearCases: { name: string; set: number[]; lo: number; hi: number; want: number }[] = [
  { name: "returns lo on an empty bitmap", set: [], lo: 1, hi: 65535, want: 1 },
  { name: "skips set bits inside one word", set: [32, 33, 34], lo: 32, hi: 63, want: 35 },
  { name: "crosses a word boundary", set: range(30, 64), lo: 30, hi: 100, want: 65 },
  { name: "ignores clear bits below lo in the first word", set: [40], lo: 40, hi: 41, want: 41 },
  {
    name: "ignores clear bits above hi in the last word",
    set: range(1, 40),
    lo: 1,
    hi: 40,
    want: -1,
  },
  { name: "skips whole full blocks", set: range(1, 5000), lo: 1, hi: 65535, want: 5001 },
  { name: "finds the last port", set: range(1, 65534), lo: 1, hi: 65535, want: 65535 },
  { name: "returns -1 when a one-port range is set", set: [65535], lo: 65535, hi: 65535, want: -1 },
  {
    name: "finds a gap in a full block",
    set: range(1024, 2047).filter((p) => p !== 2000),
    lo: 1024,
    hi: 2047,
    want: 2000,
  },
  {
    name: "starts mid-block after full words",
    set: range(0, 3000),
    lo: 1500,
    hi: 4000,
    want: 3001,
  },
];

for (const { name, set, lo, hi, want } of firstClearCases) {
  Deno.test(`PortBitmap.firstClear() ${name}`, () => {
    assert.equal(bitmapOf(set).firstClear(lo, hi), want);
  });
}

Deno.test("PortBitmap.firstClear() sees a word again once a bit of it is cleared", () => {
  const bitmap = bitmapOf(range(0, 65535));
  assert.equal(bitmap.firstClear(1, 65535), -1);
  bitmap.clear(40000);
  assert.equal(bitmap.firstClear(1, 65535), 40000);
  bitmap.set(40000);
  assert.equal(bitmap.firstClear(1, 65535), -1);
});

Deno.test("PortBitmap.countSet() counts inside one word, across words and at the edges", () => {
  const bitmap = bitmapOf([1, 31, 32, 63, 64, 1000, 65534, 65535]);
  assert.equal(bitmap.countSet(1, 31), 2);
  assert.equal(bitmap.countSet(2, 30), 0);
  assert.equal(bitmap.countSet(31, 64), 4);
  assert.equal(bitmap.countSet(1, 65535), 8);
  assert.equal(bitmap.countSet(65535, 65535), 1);
  assert.equal(bitmapOf(range(0, 65535)).countSet(0, 65535), 65536);
});

Deno.test("PortBitmap.toArray() lists set bits ascending", () => {
  assert.deepEqual(bitmapOf([65535, 3, 64, 31]).toArray(), [3, 31, 64, 65535]);
});

Deno.test("PortBitmap.toBytes() puts port p in bit p & 7 of byte p >> 3, and fromBytes() reads it back", () => {
  const ports = [1, 7, 8, 31, 32, 9000, 65534, 65535];
  const bytes = bitmapOf(ports).toBytes();
  assert.equal(bytes.length, PORT_BITMAP_BYTES);
  const expected = new Uint8Array(PORT_BITMAP_BYTES);
  for (const port of ports) expected[port >> 3]! |= 1 << (port & 7);
  assert.deepEqual(bytes, expected);
  const back = PortBitmap.fromBytes(bytes);
  assert.deepEqual(back.toArray(), ports);
  assert.equal(back.size, ports.length);
});

Deno.test("PortBitmap.fromBytes() rebuilds the full-word summary, so firstClear() skips full words", () => {
  const bitmap = PortBitmap.fromBytes(bitmapOf(range(1, 5000)).toBytes());
  assert.equal(bitmap.firstClear(1, 65535), 5001);
  assert.equal(bitmap.countSet(1, 65535), 5000);
});

Deno.test("PortBitmap.clone() and equals() copy and compare every bit", () => {
  const bitmap = bitmapOf([3, 9000]);
  const copy = bitmap.clone();
  assert.equal(copy.equals(bitmap), true);
  copy.set(9001);
  assert.equal(copy.equals(bitmap), false);
  assert.deepEqual(bitmap.toArray(), [3, 9000]);
  assert.throws(() => PortBitmap.of([0]), RangeError);
  assert.throws(() => PortBitmap.of([65536]), RangeError);
});
