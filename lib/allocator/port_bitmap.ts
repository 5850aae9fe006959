/**
 * Port ranges (the `pools` of a HostPortClass) and the one bitmap of ports: 2,048 words of 32 bits
 * (8 KiB, the allocation record's stored form), plus a summary with one bit per full word, so a
 * search for a clear bit costs the width of the range searched, never how many ports are set.
 * Arguments are not checked (except by {@linkcode PortBitmap.of}): ports are integers from 0 to
 * 65535, and `lo <= hi`.
 * @module
 */

/** The lowest port a pool may contain. */
export const MIN_PORT = 1;
/** The highest port a pool may contain. */
export const MAX_PORT = 65535;

/** An inclusive range of ports, `start` to `end`. A range with `start > end` holds no port. */
export interface PortRange {
  readonly start: number;
  readonly end: number;
}

/** Thrown when a port argument is not an integer from 1 to 65535. */
export class InvalidPortError extends RangeError {
  constructor(readonly port: number) {
    super(`Port must be an integer from ${MIN_PORT} to ${MAX_PORT}, got ${port}`);
    this.name = "InvalidPortError";
  }
}

/** Whether `value` is an integer port from {@linkcode MIN_PORT} to {@linkcode MAX_PORT}. */
export function isPort(value: number): boolean {
  return Number.isInteger(value) && value >= MIN_PORT && value <= MAX_PORT;
}

/** Whether `port` lies inside one of `ranges` (both ends included). */
export function inRanges(ranges: readonly PortRange[], port: number): boolean {
  return ranges.some((range) => port >= range.start && port <= range.end);
}

/** Renders a range as `9000-9100`, or `9000` when it holds a single port. */
export function formatRange(range: PortRange): string {
  return range.start === range.end ? `${range.start}` : `${range.start}-${range.end}`;
}

/** The ports shared by two ranges, or `undefined` when they share none. */
export function intersectRanges(a: PortRange, b: PortRange): PortRange | undefined {
  const start = Math.max(a.start, b.start);
  const end = Math.min(a.end, b.end);
  return start <= end ? { start, end } : undefined;
}

/** The ports of `ranges`, each once, as ascending disjoint ranges (empty ranges dropped). */
export function mergeRanges(ranges: readonly PortRange[]): PortRange[] {
  const sorted = ranges.filter((r) => r.start <= r.end).sort((a, b) => a.start - b.start);
  const merged: { start: number; end: number }[] = [];
  for (const { start, end } of sorted) {
    const last = merged.at(-1);
    if (last !== undefined && start <= last.end + 1) last.end = Math.max(last.end, end);
    else merged.push({ start, end });
  }
  return merged;
}

const WORDS = 2048;
const FULL = 0xffffffff;

/** Size of {@linkcode PortBitmap.toBytes}: one bit per port number 0-65535. */
export const PORT_BITMAP_BYTES = WORDS * 4;

/** A 32-bit mask with bits `a` to `b` set (0 <= a <= b <= 31). */
function mask(a: number, b: number): number {
  return (-1 >>> (31 - b + a)) << a;
}

/** Index of the lowest set bit of a non-zero 32-bit value. */
function lowestBit(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** Number of set bits of a 32-bit value. */
function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

/** A set of ports; see the module documentation. */
export class PortBitmap {
  #bits = new Uint32Array(WORDS);
  #full = new Uint32Array(WORDS / 32);

  /** A bitmap with every port of `ports` set. @throws {InvalidPortError} a value is not a port */
  static of(ports: Iterable<number>): PortBitmap {
    const bitmap = new PortBitmap();
    for (const port of ports) {
      if (!isPort(port)) throw new InvalidPortError(port);
      bitmap.set(port);
    }
    return bitmap;
  }

  /** The bitmap {@linkcode PortBitmap.toBytes} wrote (`PORT_BITMAP_BYTES` long). */
  static fromBytes(bytes: Uint8Array): PortBitmap {
    const bitmap = new PortBitmap();
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let w = 0; w < WORDS; w++) {
      const word = view.getUint32(w * 4, true);
      bitmap.#bits[w] = word;
      if (word === FULL) bitmap.#full[w >>> 5]! |= 1 << (w & 31);
    }
    return bitmap;
  }

  /** How many bits are set. */
  get size(): number {
    return this.countSet(0, MAX_PORT);
  }

  /** Whether the bit of `port` is set. */
  has(port: number): boolean {
    return ((this.#bits[port >>> 5] as number) & (1 << (port & 31))) !== 0;
  }

  /** Sets the bit of `port`; returns false if it was already set. */
  set(port: number): boolean {
    if (this.has(port)) return false;
    const w = port >>> 5;
    this.#bits[w]! |= 1 << (port & 31);
    if (this.#bits[w] === FULL) this.#full[w >>> 5]! |= 1 << (w & 31);
    return true;
  }

  /** Clears the bit of `port`; returns false if it was already clear. */
  clear(port: number): boolean {
    if (!this.has(port)) return false;
    const w = port >>> 5;
    this.#bits[w]! &= ~(1 << (port & 31));
    this.#full[w >>> 5]! &= ~(1 << (w & 31));
    return true;
  }

  /** The 8 KiB stored form: port `p` is bit `p & 7` of byte `p >> 3`, whatever the machine. */
  toBytes(): Uint8Array {
    const bytes = new Uint8Array(PORT_BITMAP_BYTES);
    const view = new DataView(bytes.buffer);
    this.#bits.forEach((word, w) => view.setUint32(w * 4, word, true));
    return bytes;
  }

  /** An independent copy. */
  clone(): PortBitmap {
    const copy = new PortBitmap();
    copy.#bits.set(this.#bits);
    copy.#full.set(this.#full);
    return copy;
  }

  /** Whether `other` has exactly the same bits set. */
  equals(other: PortBitmap): boolean {
    return this.#bits.every((word, w) => word === other.#bits[w]);
  }

  /** The lowest clear bit from `lo` to `hi` inclusive, or -1 when all of them are set. */
  firstClear(lo: number, hi: number): number {
    const loW = lo >>> 5;
    const hiW = hi >>> 5;
    for (let s = loW >>> 5; s <= hiW >>> 5; s++) {
      const first = Math.max(loW, s << 5) & 31;
      const last = Math.min(hiW, (s << 5) | 31) & 31;
      // Words in this summary block that are inside the range and not full.
      let open = ~(this.#full[s] as number) & mask(first, last);
      while (open !== 0) {
        const w = (s << 5) | lowestBit(open);
        open &= open - 1;
        const a = w === loW ? lo & 31 : 0;
        const b = w === hiW ? hi & 31 : 31;
        const free = ~(this.#bits[w] as number) & mask(a, b);
        if (free !== 0) return (w << 5) | lowestBit(free);
      }
    }
    return -1;
  }

  /** How many bits are set from `lo` to `hi` inclusive. */
  countSet(lo: number, hi: number): number {
    const loW = lo >>> 5;
    const hiW = hi >>> 5;
    if (loW === hiW) return popcount((this.#bits[loW] as number) & mask(lo & 31, hi & 31));
    let count = popcount((this.#bits[loW] as number) & mask(lo & 31, 31)) +
      popcount((this.#bits[hiW] as number) & mask(0, hi & 31));
    for (let w = loW + 1; w < hiW; w++) count += popcount(this.#bits[w] as number);
    return count;
  }

  /** Every set bit, ascending. */
  toArray(): number[] {
    const ports: number[] = [];
    for (let w = 0; w < WORDS; w++) {
      let word = this.#bits[w] as number;
      while (word !== 0) {
        ports.push((w << 5) | lowestBit(word));
        word &= word - 1;
      }
    }
    return ports;
  }
}
