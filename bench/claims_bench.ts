/**
 * Benchmark of the operator end to end: 1,000 claims created at once on a real control plane
 * (etcd + kube-apiserver on this machine), the operator as a separate process running the
 * bundle the image compiles. It measures time until every claim is Bound, claims bound per
 * second, claim-to-bound latency, the operator's API writes per claim (from the API server's
 * audit log) and its peak RSS, as released (its webhooks registered), tuned, and without webhooks
 * (see {@linkcode CLAIMS_SETUPS}).
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CONTROLLER_DEFAULTS } from "../lib/controller/start_controllers.ts";
import { MOD_TS, OPERATOR_PERMISSIONS } from "../tests/demo/operator_process.ts";
import type { BenchResult } from "./bench_result.ts";
import { claimsReport, type ClaimsRun } from "./claims_report.ts";
import { measureClaims, TRAILING_MS } from "./claims_run.ts";

/** One configuration of the operator to measure. */
export interface ClaimsSetup {
  /** Column heading. */
  readonly label: string;
  /** Operator flags. */
  readonly flags: readonly string[];
  /** V8 flags added to the image's (comma-separated, as `--v8-flags` takes them). */
  readonly extraV8Flags: readonly string[];
  /**
   * Whether the operator starts with the bundle's V8 code cache built, as the image's executable
   * does (its Dockerfile builds the cache with one `--help` run); without, it compiles the bundle
   * as it starts, as a new bundle does on its first `deno run`.
   */
  readonly codeCache: boolean;
  /**
   * Whether the release's custom-resource webhook configurations are registered (pointing at the
   * operator process), as a release runs them; without, the controllers alone act.
   */
  readonly webhooks: boolean;
}

/**
 * The configurations measured: the release's defaults as the image runs them, its webhooks
 * registered; the same without a code cache; a tuning that changes no behaviour (more concurrent
 * reconciles, a young generation half the image's 2 MB semi-spaces); and the release's defaults
 * without webhooks, as the benchmark ran before session 7 (so its history stays comparable).
 */
export const CLAIMS_SETUPS: readonly ClaimsSetup[] = [
  { label: "as released", flags: [], extraV8Flags: [], codeCache: true, webhooks: true },
  { label: "no code cache", flags: [], extraV8Flags: [], codeCache: false, webhooks: true },
  {
    label: "tuned: --workers=24, semi-space 1 MB",
    flags: ["--workers=24"],
    extraV8Flags: ["--max-semi-space-size=1"],
    codeCache: true,
    webhooks: true,
  },
  {
    label: "no webhooks registered",
    flags: [],
    extraV8Flags: [],
    codeCache: true,
    webhooks: false,
  },
];

/** Sizes of the benchmark; the defaults are what `bench/run.ts` uses. */
export interface ClaimsBenchOptions {
  /** Claims created per run. */
  readonly claims?: number;
  /** Create requests in flight at once. */
  readonly inFlight?: number;
  /** Run `mod.ts` from source instead of the bundle. */
  readonly fromSource?: boolean;
  /** The configurations to run; {@linkcode CLAIMS_SETUPS} by default. */
  readonly setups?: readonly ClaimsSetup[];
}

const DOCKERFILE = fileURLToPath(new URL("../Dockerfile", import.meta.url));

/** The V8 flags the image is compiled with (`--v8-flags=` of the Dockerfile), if any. */
export async function imageV8Flags(): Promise<string[]> {
  const dockerfile = await Deno.readTextFile(DOCKERFILE).catch(() => "");
  const flags = dockerfile.match(/--v8-flags=(\S+)/)?.[1];
  return flags === undefined ? [] : flags.split(",");
}

/**
 * The environment of the image's final stage that applies outside it too (`GLIBC_TUNABLES`; its
 * `TMPDIR` and `DENO_DIR` name the image's own paths).
 */
export async function imageEnv(): Promise<Record<string, string>> {
  const dockerfile = await Deno.readTextFile(DOCKERFILE).catch(() => "");
  const finalStage = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
  const tunables = finalStage.match(/\bGLIBC_TUNABLES=(\S+)/)?.[1];
  return tunables === undefined ? {} : { GLIBC_TUNABLES: tunables };
}

/**
 * Builds the V8 code cache of the bundle at `path` in `env.DENO_DIR` as the image's build does:
 * one `--help` run, with the same V8 flags (V8 rejects a cache made under other flags).
 *
 * @throws {Error} when the run fails
 */
async function buildCodeCache(path: string, env: Record<string, string>): Promise<void> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...OPERATOR_PERMISSIONS, path, "--help"],
    cwd: dirname(path),
    env,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`Cannot build the code cache: ${new TextDecoder().decode(output.stderr)}`);
  }
}

/** How the operator process runs: the script, its directory and its environment. */
export interface OperatorScript {
  readonly path: string;
  readonly cwd: string;
  readonly env: Record<string, string>;
}

/**
 * Runs the bundle at `path` as the image runs its executable: the image's V8 flags (plus
 * `extraV8Flags`) and malloc settings, and, with `codeCache`, the bundle's V8 code cache built
 * first by one `--help` run as the Dockerfile builds it. The code cache goes into a `DENO_DIR` of
 * its own under `dir`, so no run reuses another's.
 */
export async function imageScript(
  path: string,
  dir: string,
  options: { extraV8Flags?: readonly string[]; codeCache: boolean },
): Promise<OperatorScript> {
  const v8Flags = [...await imageV8Flags(), ...options.extraV8Flags ?? []].join(",");
  const env: Record<string, string> = {
    ...await imageEnv(),
    DENO_DIR: await Deno.makeTempDir({ dir, prefix: "deno-dir-" }),
    ...v8Flags === "" ? {} : { DENO_V8_FLAGS: v8Flags },
  };
  if (options.codeCache) await buildCodeCache(path, env);
  return { path, cwd: dirname(path), env };
}

/** Bundles `mod.ts` (or `entry`, another checkout's) as `deno task bundle` does, into `dir`. */
export async function bundleInto(dir: string, entry: string = MOD_TS): Promise<string> {
  const path = join(dir, "hostport-allocator.js");
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform", "deno", "-o", path, entry],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`Cannot bundle mod.ts: ${new TextDecoder().decode(output.stderr)}`);
  }
  return path;
}

/** Runs every setup once, each against a fresh control plane, and returns the results. */
export async function runClaimsBench(options: ClaimsBenchOptions = {}): Promise<BenchResult> {
  const claims = options.claims ?? 1_000;
  const inFlight = options.inFlight ?? 50;
  const workDir = await Deno.makeTempDir({ prefix: "hostport-bench-claims-" });
  try {
    const path = options.fromSource ? MOD_TS : await bundleInto(workDir);
    const runs: ClaimsRun[] = [];
    for (const setup of options.setups ?? CLAIMS_SETUPS) {
      const runDir = await Deno.makeTempDir({ dir: workDir, prefix: "run-" });
      const script = await imageScript(path, runDir, {
        extraV8Flags: setup.extraV8Flags,
        codeCache: setup.codeCache && !options.fromSource,
      });
      console.error(`bench: claims: ${setup.label}`);
      runs.push(
        await measureClaims({
          label: setup.label,
          claims,
          inFlight,
          script,
          flags: ["--leader-elect=true", ...setup.flags],
          webhooks: setup.webhooks,
          workDir: runDir,
        }),
      );
    }
    return claimsReport(runs, method(claims, inFlight, options.fromSource ?? false));
  } finally {
    await Deno.remove(workDir, { recursive: true }).catch(() => {});
  }
}

function method(claims: number, inFlight: number, fromSource: boolean): string {
  const what = fromSource ? "`mod.ts` from source" : "the bundle (`deno task bundle`)";
  return [
    `Each column is a run on a fresh control plane (etcd + kube-apiserver from`,
    `\`tests/controlplane\`) with the operator as its own process on the same machine: ${what}`,
    `with the image's V8 flags (\`DENO_V8_FLAGS\`, the Dockerfile's \`--v8-flags\`) and malloc`,
    `settings (its \`GLIBC_TUNABLES\`), and, unless the column says "no code cache", the bundle's`,
    `V8 code cache built before the start by one \`--help\` run, as the Dockerfile builds the`,
    `image's (each column has a \`DENO_DIR\` of its own, so no column reuses another's cache), out of`,
    `cluster with the release's ServiceAccount and RBAC, leader election on, defaults otherwise`,
    `(${CONTROLLER_DEFAULTS.claimWorkers} claim workers, ${CONTROLLER_DEFAULTS.hostPortWorkers} HostPort workers) unless the column says so. Unless the column says "no`,
    `webhooks registered" (how every run before session 7 was made), the release's two`,
    `custom-resource webhook configurations are registered once the operator is ready, as the`,
    `release has them but calling the operator process by URL (the harness's CA as caBundle):`,
    `each claim's create goes through the claim webhooks (mutating and validating), while the`,
    `operator's own HostPort writes and claim updates skip them (their \`matchConditions\` on`,
    `the operator's username); the pod webhook is not registered (no pods). One HostPortClass of`,
    `${claims} ports; once the operator leads and its first repair pass is done, the benchmark`,
    `creates ${claims} claims as the admin, ${inFlight} create requests in flight at a time,`,
    `while a watch on the claims notes when each is first seen \`Bound\`.`,
    "",
    `- Latency of a claim: from the moment its create request returned to the moment the`,
    `  benchmark's watch delivered it \`Bound\` (creationTimestamp has only second resolution).`,
    `- Claims per second: ${claims} over the time from the first create sent to the last`,
    `  \`Bound\` seen.`,
    `- Writes: kube-apiserver's audit log (a policy that logs only the operator's`,
    `  ServiceAccount, at Metadata level, \`--audit-log-mode=blocking\`): the create, update,`,
    `  patch and delete requests from the first create until ${TRAILING_MS / 1000} s after the`,
    `  last \`Bound\`, by what they wrote. The target counts the claim's and its HostPort's own`,
    `  writes (the design's 4: create HostPort, claim spec and finalizer, HostPort status, claim`,
    `  status, plus any retried after a conflict); Events, the allocation record, the class`,
    `  status and the Lease are listed apart. "API server" times are the audit log's, from`,
    `  request received to response complete.`,
    `- Peak RSS: \`VmHWM\` of /proc/<pid>/status of the operator process after the burst.`,
    `- CPU: user + system time from /proc/<pid>/stat, first create to last \`Bound\`; the`,
    `  machine has ${navigator.hardwareConcurrency} cores, shared with whatever else runs`,
    `  (see the load average).`,
    `- Reconciles: the operator's \`controller_runtime_reconcile_time_seconds\` after the burst.`,
    `- Webhook requests: the operator's \`controller_runtime_webhook_requests_total\` after the`,
    `  burst, by webhook.`,
  ].join("\n");
}
