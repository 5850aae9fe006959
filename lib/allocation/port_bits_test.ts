import assert from "node:assert/strict";
import {
  clearPortBit,
  countPortBits,
  decodePortBits,
  diffPortBits,
  emptyPortBits,
  encodePortBits,
  hasPortBit,
  PORT_BITS_BYTES,
  portBitsOf,
  portsOf,
  setPortBit,
} from "./port_bits.ts";

Deno.test("portBitsOf() and portsOf() round-trip the lowest, highest and middle ports", () => {
  const ports = [1, 7, 8, 9000, 65534, 65535];
  const bits = portBitsOf(ports);
  assert.equal(bits.length, PORT_BITS_BYTES);
  assert.deepEqual(portsOf(bits), ports);
  assert.equal(countPortBits(bits), ports.length);
});

Deno.test("setPortBit() and clearPortBit() report whether they changed anything", () => {
  const bits = emptyPortBits();
  assert.equal(setPortBit(bits, 9000), true);
  assert.equal(setPortBit(bits, 9000), false);
  assert.equal(hasPortBit(bits, 9000), true);
  assert.equal(clearPortBit(bits, 9000), true);
  assert.equal(clearPortBit(bits, 9000), false);
  assert.equal(hasPortBit(bits, 9000), false);
});

Deno.test("setPortBit() throws RangeError for values that are not ports", () => {
  const bits = emptyPortBits();
  for (const bad of [0, -1, 65536, 1.5, Number.NaN]) {
    assert.throws(() => setPortBit(bits, bad), RangeError);
  }
  assert.equal(hasPortBit(bits, 0), false);
});

Deno.test("diffPortBits() lists added and removed ports, ascending", () => {
  const before = portBitsOf([10, 11, 500]);
  const after = portBitsOf([11, 12, 600]);
  assert.deepEqual(diffPortBits(before, after), { added: [12, 600], removed: [10, 500] });
});

Deno.test("encodePortBits() and decodePortBits() round-trip through base64", () => {
  const bits = portBitsOf([1, 1234, 65535]);
  const text = encodePortBits(bits);
  assert.equal(text.length, 10924); // 8192 bytes in base64
  assert.deepEqual(portsOf(decodePortBits(text)), [1, 1234, 65535]);
});

Deno.test("decodePortBits() throws SyntaxError for text that is not an 8 KiB bitmap", () => {
  assert.throws(() => decodePortBits("not base64!"), SyntaxError);
  assert.throws(() => decodePortBits(btoa("short")), /must be 8192 bytes: got 5/);
  const withPortZero = emptyPortBits();
  withPortZero[0] = 1;
  assert.throws(() => decodePortBits(encodePortBits(withPortZero)), /port 0 is set/);
});
