/**
 * Health endpoints in the API server's style: `/healthz` (liveness) and `/readyz`
 * (readiness) answer `200 ok` when every named check passes, and `503` with one
 * `[-]name failed: reason` line per failing check otherwise; `?verbose` lists every check,
 * and `/readyz/<name>` runs one check.
 *
 * @module
 */

/** A check's verdict: `true` when healthy, otherwise the reason it is not. */
export type CheckResult = true | string;

/** A named check. */
export type Check = () => CheckResult;

/** A check that fails with `reason` (a placeholder until the real check is added). */
export function notReady(reason: string): Check {
  return () => reason;
}

/**
 * Readiness of the admission server: its certificate source is healthy and its caches have
 * synced. (It is serving once it exists: register this after it started.)
 */
export function webhookReadiness(
  parts: { certificateHealthy: () => boolean; cachesSynced: Promise<boolean> },
): Check {
  let synced = false;
  parts.cachesSynced.then((value) => synced = value, () => {});
  return () => {
    if (!parts.certificateHealthy()) return "the serving certificate cannot be loaded";
    return synced || "the webhook caches have not synced yet";
  };
}

/** The liveness and readiness checks of the process. */
export class HealthChecks {
  #live = new Map<string, Check>([["ping", () => true]]);
  #ready = new Map<string, Check>([["ping", () => true]]);

  /** Adds a liveness check (keep these trivial: failing restarts the pod). */
  addLiveness(name: string, check: Check): void {
    this.#live.set(name, check);
  }

  /** Adds a readiness check (replacing one of the same name). */
  addReadiness(name: string, check: Check): void {
    this.#ready.set(name, check);
  }

  /** Whether every readiness check passes now. */
  isReady(): boolean {
    return [...this.#ready.values()].every((check) => run(check) === true);
  }

  /**
   * Answers `/healthz`, `/readyz` and their `/<check>` sub-paths; resolves undefined for
   * other paths.
   */
  handle(request: Request): Response | undefined {
    const url = new URL(request.url);
    const found = /^\/(healthz|livez|readyz)(?:\/([^/]+))?\/?$/.exec(url.pathname);
    if (!found) return undefined;
    const [, kind, only] = found;
    const checks = kind === "readyz" ? this.#ready : this.#live;
    if (only !== undefined) {
      const check = checks.get(only);
      if (!check) return text(404, `${kind} check "${only}" not found\n`);
      const result = run(check);
      return result === true ? text(200, "ok") : text(503, `[-]${only} failed: ${result}\n`);
    }
    return report(kind!, checks, url.searchParams.has("verbose"));
  }
}

function run(check: Check): CheckResult {
  try {
    return check();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

function report(kind: string, checks: Map<string, Check>, verbose: boolean): Response {
  const lines: string[] = [];
  let healthy = true;
  for (const [name, check] of checks) {
    const result = run(check);
    if (result === true) lines.push(`[+]${name} ok`);
    else {
      healthy = false;
      lines.push(`[-]${name} failed: ${result}`);
    }
  }
  if (healthy && !verbose) return text(200, "ok");
  lines.push(healthy ? `${kind} check passed` : `${kind} check failed`);
  return text(healthy ? 200 : 503, `${lines.join("\n")}\n`);
}

function text(status: number, body: string): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" },
  });
}
