/**
 * Benchmark of `allocateNext()` on a nearly full class, against the original's method.
 *
 * @module
 */

import { PortRegistry } from "../lib/allocator/mod.ts";
import type { PortRange } from "../lib/allocator/mod.ts";
import type { BenchResult } from "./bench_result.ts";

const POOLS: readonly PortRange[] = [{ start: 1024, end: 65534 }];
const CAPACITY = 65534 - 1024 + 1; // 64,511 ports
const FILL = 0.95;
const HELD = Math.round(CAPACITY * FILL); // 61,285 ports
const SEED = 0x5eed_2024;
const US = "\u00b5s"; // micro sign, escaped for the prefer-ascii lint rule

/** Iteration counts; the defaults are what `bench/run.ts` uses. */
export interface AllocatorBenchOptions {
  /** Allocations per batch before the batch is released again (keeps the fill near 95%). */
  readonly batch?: number;
  /** Timed samples per method and layout; the median is reported. */
  readonly samples?: number;
  /** Batches per sample for our allocator. */
  readonly batchesPerSample?: number;
  /** Allocations per sample for the reference (each one costs milliseconds). */
  readonly referencePerSample?: number;
}

interface Layout {
  readonly name: string;
  readonly held: readonly number[];
}

/** Mulberry32: a small seeded PRNG, so the random layout is the same on every run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return function next(): number {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function layouts(): Layout[] {
  const all = Array.from({ length: CAPACITY }, (_, i) => 1024 + i);
  const random = mulberry32(SEED);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [all[i], all[j]] = [all[j] as number, all[i] as number];
  }
  return [
    { name: "random 95% (seeded)", held: all.slice(0, HELD) },
    { name: "lowest 95% contiguous", held: Array.from({ length: HELD }, (_, i) => 1024 + i) },
  ];
}

/** The original's method (seed-behaviour.md section 2.3, steps 4.3-4.6), stopping at the first free port. */
function referenceAllocate(
  heldByHostPorts: readonly number[],
  pools: readonly PortRange[],
): number {
  const used = new Set<number>();
  for (const port of heldByHostPorts) if (port > 0) used.add(port);
  for (const pool of pools) {
    for (let port = pool.start; port <= pool.end; port++) if (!used.has(port)) return port;
  }
  return 0;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** Microseconds per allocation for PortRegistry: batches of allocateNext, each batch then released. */
function measureRegistry(layout: Layout, batch: number, batches: number, samples: number): number {
  const registry = new PortRegistry();
  registry.restore(layout.held.map((port) => ({ holder: port, port })));
  const taken = new Int32Array(batch);
  const runBatches = (count: number) => {
    for (let b = 0; b < count; b++) {
      for (let i = 0; i < batch; i++) {
        const result = registry.allocateNext(POOLS);
        if (!result.ok) throw new Error("Benchmark class ran out of ports");
        taken[i] = result.port;
      }
      for (let i = 0; i < batch; i++) registry.release(taken[i] as number);
    }
  };
  runBatches(batches); // warm-up
  const perAllocation: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now();
    runBatches(batches);
    perAllocation.push(((performance.now() - t0) * 1000) / (batch * batches));
  }
  if (registry.snapshot().length !== HELD) {
    throw new Error("Benchmark left the registry at the wrong fill");
  }
  return median(perAllocation);
}

/** Microseconds per allocation for the reference, with the same batch-then-release pattern. */
function measureReference(
  layout: Layout,
  batch: number,
  perSample: number,
  samples: number,
): number {
  const held = [...layout.held];
  const runAllocations = (count: number) => {
    for (let done = 0; done < count;) {
      const n = Math.min(batch, count - done);
      for (let i = 0; i < n; i++) held.push(referenceAllocate(held, POOLS));
      held.length -= n;
      done += n;
    }
  };
  runAllocations(Math.min(perSample, 5)); // warm-up
  const perAllocation: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now();
    runAllocations(perSample);
    perAllocation.push(((performance.now() - t0) * 1000) / perSample);
  }
  return median(perAllocation);
}

/** Both methods must hand out the same ports, or the comparison is meaningless. */
function checkSameAnswers(layout: Layout, count: number): void {
  const registry = new PortRegistry();
  registry.restore(layout.held.map((port) => ({ holder: port, port })));
  const held = [...layout.held];
  for (let i = 0; i < count; i++) {
    const ours = registry.allocateNext(POOLS);
    const theirs = referenceAllocate(held, POOLS);
    held.push(theirs);
    if (!ours.ok || ours.port !== theirs) {
      throw new Error(
        `Allocators disagree on ${layout.name}: ${JSON.stringify(ours)} vs ${theirs}`,
      );
    }
  }
}

function fmt(us: number): string {
  return us >= 100 ? us.toFixed(0) : us >= 1 ? us.toFixed(2) : us.toFixed(3);
}

/**
 * Runs the allocator benchmark: `allocateNext()` on a class of 64,511 ports (1024-65534) that
 * is 95% full, for `PortRegistry` and for the original's method, on two layouts of held ports.
 */
export function runAllocatorBench(options: AllocatorBenchOptions = {}): BenchResult {
  const batch = options.batch ?? 100;
  const samples = options.samples ?? 7;
  const batchesPerSample = options.batchesPerSample ?? 2000;
  const referencePerSample = options.referencePerSample ?? 40;
  const rows: string[][] = [];
  const summary: string[] = [];
  for (const layout of layouts()) {
    checkSameAnswers(layout, 20);
    const ours = measureRegistry(layout, batch, batchesPerSample, samples);
    const reference = measureReference(layout, batch, referencePerSample, samples);
    const ratio = reference / ours;
    rows.push([
      layout.name,
      fmt(ours),
      fmt(reference),
      `${Math.round(ratio)}x`,
      `${batch * batchesPerSample} / ${referencePerSample}`,
    ]);
    summary.push(
      `${layout.name}: ${fmt(ours)} ${US} per allocation (target < 1 ${US}: ${
        ours < 1 ? "met" : "NOT met"
      }), ` +
        `${Math.round(ratio)}x faster than the original (target >= 2000x: ${
          ratio >= 2000 ? "met" : "NOT met"
        })`,
    );
  }
  return {
    title: "Allocator: allocateNext() on a class that is 95% full",
    method: methodText(batch, samples, batchesPerSample, referencePerSample),
    columns: [
      "Layout of held ports",
      `PortRegistry (${US} per allocation)`,
      `Original (${US} per allocation)`,
      "Ratio",
      "Allocations per sample (ours / original)",
    ],
    rows,
    summary,
  };
}

function methodText(batch: number, samples: number, batches: number, refPerSample: number): string {
  return [
    `- Class: one pool 1024-65534 (${CAPACITY} ports); ${HELD} of them held (95%) before each run.`,
    `- Layouts: "random 95%" holds a uniformly random 95% of the pool (Fisher-Yates shuffle with a`,
    `  seeded mulberry32 PRNG, seed 0x${SEED.toString(16)}); "lowest 95% contiguous" holds`,
    `  1024-${
      1024 + HELD - 1
    }, so the first free port is near the top (the worst case for a scan).`,
    `- PortRegistry: state restored once, then batches of ${batch} \`allocateNext()\` calls, each batch`,
    `  released again, so the fill stays between 95.00% and ${
      ((100 * (HELD + batch)) / CAPACITY).toFixed(2)
    }%. The timer covers`,
    `  the allocations and their releases, so the figure is an upper bound for an allocation alone.`,
    `  ${batches} batches per sample, ${samples} samples after one warm-up sample; median reported.`,
    `- Original: every allocation builds a Set of the ports held by all HostPorts (a plain array here,`,
    `  as if listed from the cache), then scans the pools in order and stops at the first free port`,
    `  (seed-behaviour.md section 2.3, steps 4.3-4.6). Same batch-then-release pattern, ${refPerSample}`,
    `  allocations per sample, ${samples} samples; median reported.`,
    `- Before timing, both methods are checked to hand out the same first 20 ports on each layout.`,
  ].join("\n");
}
