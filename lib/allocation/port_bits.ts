/**
 * The allocation record's bitmap: 8 KiB, one bit per port number 0-65535 (port `p` is bit
 * `p & 7` of byte `p >> 3`; bit 0 of byte 0, port 0, is never set). Small pure helpers over a
 * `Uint8Array`, plus base64, because the record travels as text in a ConfigMap.
 *
 * @module
 */

import { isPort } from "../allocator/mod.ts";

/** Size of the bitmap in bytes: one bit per port number 0-65535. */
export const PORT_BITS_BYTES = 8192;

/** A bitmap of ports, {@linkcode PORT_BITS_BYTES} long. */
export type PortBits = Uint8Array;

/** A new bitmap with no port set. */
export function emptyPortBits(): PortBits {
  return new Uint8Array(PORT_BITS_BYTES);
}

/** A bitmap with every port of `ports` set. @throws {RangeError} a value is not a port */
export function portBitsOf(ports: Iterable<number>): PortBits {
  const bits = emptyPortBits();
  for (const port of ports) setPortBit(bits, port);
  return bits;
}

/** Whether `port` is set (false for any value that is not a port). */
export function hasPortBit(bits: PortBits, port: number): boolean {
  return isPort(port) && ((bits[port >>> 3] as number) & (1 << (port & 7))) !== 0;
}

/** Sets `port`; returns false when it was already set. @throws {RangeError} not a port */
export function setPortBit(bits: PortBits, port: number): boolean {
  checkPort(port);
  const byte = bits[port >>> 3] as number;
  const bit = 1 << (port & 7);
  bits[port >>> 3] = byte | bit;
  return (byte & bit) === 0;
}

/** Clears `port`; returns false when it was already clear. @throws {RangeError} not a port */
export function clearPortBit(bits: PortBits, port: number): boolean {
  checkPort(port);
  const byte = bits[port >>> 3] as number;
  const bit = 1 << (port & 7);
  bits[port >>> 3] = byte & ~bit;
  return (byte & bit) !== 0;
}

/** Every set port, ascending. */
export function portsOf(bits: PortBits): number[] {
  const ports: number[] = [];
  for (let i = 0; i < bits.length; i++) {
    let byte = bits[i] as number;
    while (byte !== 0) {
      const low = byte & -byte;
      ports.push(i * 8 + 31 - Math.clz32(low));
      byte &= byte - 1;
    }
  }
  return ports;
}

/** How many ports are set. */
export function countPortBits(bits: PortBits): number {
  let count = 0;
  for (const byte of bits) {
    let v = byte;
    while (v !== 0) {
      v &= v - 1;
      count++;
    }
  }
  return count;
}

/** The ports set in `after` but not in `before` (`added`) and the reverse (`removed`). */
export function diffPortBits(
  before: PortBits,
  after: PortBits,
): { added: number[]; removed: number[] } {
  const added: number[] = [];
  const removed: number[] = [];
  for (let i = 0; i < PORT_BITS_BYTES; i++) {
    const a = before[i] as number;
    const b = after[i] as number;
    if (a === b) continue;
    for (let bit = 0; bit < 8; bit++) {
      const mask = 1 << bit;
      if ((b & mask) !== 0 && (a & mask) === 0) added.push(i * 8 + bit);
      else if ((a & mask) !== 0 && (b & mask) === 0) removed.push(i * 8 + bit);
    }
  }
  return { added, removed };
}

/** Encodes a bitmap as base64 (standard alphabet, padded). */
export function encodePortBits(bits: PortBits): string {
  let binary = "";
  for (let i = 0; i < bits.length; i += 4096) {
    binary += String.fromCharCode(...bits.subarray(i, i + 4096));
  }
  return btoa(binary);
}

/**
 * Decodes base64 into a bitmap.
 *
 * @throws {SyntaxError} the text is not base64, or does not decode to exactly 8 KiB
 */
export function decodePortBits(text: string): PortBits {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    throw new SyntaxError("Cannot decode the port bitmap as it is not base64");
  }
  if (binary.length !== PORT_BITS_BYTES) {
    throw new SyntaxError(
      `Cannot decode the port bitmap as it must be ${PORT_BITS_BYTES} bytes: got ${binary.length}`,
    );
  }
  const bits = emptyPortBits();
  for (let i = 0; i < PORT_BITS_BYTES; i++) bits[i] = binary.charCodeAt(i);
  if (((bits[0] as number) & 1) !== 0) {
    throw new SyntaxError("Cannot decode the port bitmap as port 0 is set");
  }
  return bits;
}

function checkPort(port: number): void {
  if (!isPort(port)) throw new RangeError(`Port must be an integer from 1 to 65535, got ${port}`);
}
