/**
 * Runs the benchmarks and writes each one's results to `bench/results/<name>.md`.
 *
 * `./deno task bench` runs them all; `./deno task bench allocator` runs only those named;
 * `--` flags go to each benchmark run (`./deno task bench scale --fraction=0.1`).
 * Add a benchmark by appending it to {@linkcode BENCHMARKS}.
 *
 * @module
 */

import { runAllocatorBench } from "./allocator_bench.ts";
import { runClaimsBench } from "./claims_bench.ts";
import { runScaleBench } from "./scale_bench.ts";
import type { BenchModule, BenchResult } from "./bench_result.ts";
import { runPerPodBench } from "./per_pod_bench.ts";
import { runWebhookBench } from "./webhook_bench.ts";

/** Every benchmark, in the order they run. */
export const BENCHMARKS: readonly BenchModule[] = [
  { name: "allocator", run: () => runAllocatorBench() },
  { name: "claims", run: () => runClaimsBench() },
  { name: "webhook", run: () => runWebhookBench() },
  { name: "per_pod", run: () => runPerPodBench() },
  { name: "scale", run: (flags) => runScaleBench(flags) },
];

const TASK = "deno run --allow-all bench/run.ts";

async function cpuModel(): Promise<string> {
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    return info.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? "unknown";
  } catch {
    return "unknown"; // not Linux, or not readable
  }
}

function table(columns: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(columns), line(columns.map(() => "---")), ...rows.map(line)].join("\n");
}

/** Renders one benchmark's results, with the environment it ran in, as markdown. */
export async function renderResult(result: BenchResult, command: string): Promise<string> {
  const environment = table(["", ""], [
    ["Date", new Date().toISOString()],
    ["Deno", `${Deno.version.deno} (V8 ${Deno.version.v8})`],
    ["OS / arch", `${Deno.build.os} / ${Deno.build.arch}`],
    ["CPU", await cpuModel()],
    ["Cores", `${navigator.hardwareConcurrency}`],
    ["Command", `\`${command}\` (the task runs \`${TASK}\`)`],
  ]);
  return [
    `# ${result.title}`,
    environment,
    "## Method",
    result.method,
    "## Results",
    table(result.columns, result.rows),
    result.summary.map((line) => `- ${line}`).join("\n"),
    "",
  ].join("\n\n");
}

async function main(args: readonly string[]): Promise<void> {
  const flags = args.filter((arg) => arg.startsWith("--"));
  const names = args.filter((arg) => !arg.startsWith("--"));
  const unknown = names.filter((name) => !BENCHMARKS.some((b) => b.name === name));
  if (unknown.length > 0) {
    throw new Error(
      `Unknown benchmark ${unknown.join(", ")}; known: ${BENCHMARKS.map((b) => b.name).join(", ")}`,
    );
  }
  const selected = BENCHMARKS.filter((b) => names.length === 0 || names.includes(b.name));
  const dir = new URL("./results/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  for (const bench of selected) {
    console.error(`bench: running ${bench.name}`);
    const command = ["./deno task bench", ...args].join(" ");
    const markdown = await renderResult(await bench.run(flags), command);
    await Deno.writeTextFile(new URL(`${bench.name}.md`, dir), markdown);
    console.log(markdown);
  }
}

if (import.meta.main) await main(Deno.args);
