/**
 * The operational endpoints (`/healthz`, `/readyz`, `/metrics`) on plain-HTTP servers; routes
 * that share an address share one server. Health answers in the API server's style: `200 ok`
 * when every check passes, else `503` with one `[-]name failed: reason` line per failing check;
 * `?verbose` lists every check, and `/readyz/<name>` runs one check.
 *
 * @module
 */
import type { Logger } from "./contracts.ts";
import { formatListenAddress, type ListenAddress } from "./flags.ts";
import { errorMessage } from "../api/types.ts";
import { Registry } from "prom-client";

/** A check's verdict: `true` when healthy, otherwise the reason it is not. */
export type CheckResult = true | string;

type Check = () => CheckResult;

/** Readiness of the started admission server: its certificate is healthy, its caches synced. */
export function webhookReadiness(
  certificates: { healthy(): boolean },
  cachesSynced: Promise<boolean>,
): Check {
  let synced = false;
  cachesSynced.then((value) => synced = value, () => {});
  return () => {
    if (!certificates.healthy()) return "the serving certificate cannot be loaded";
    return synced || "the webhook caches have not synced yet";
  };
}

/** The liveness and readiness checks of the process. */
export class HealthChecks {
  #live = new Map<string, Check>([["ping", () => true]]);
  #ready = new Map<string, Check>([["ping", () => true]]);

  /** Adds a readiness check (replacing one of the same name). */
  addReadiness(name: string, check: Check): void {
    this.#ready.set(name, check);
  }

  /** Answers `/healthz`, `/livez`, `/readyz` and their `/<check>` sub-paths, else undefined. */
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
    return errorMessage(error);
  }
}

function report(kind: string, checks: Map<string, Check>, verbose: boolean): Response {
  const results = [...checks].map(([name, check]) => [name, run(check)] as const);
  const healthy = results.every(([, result]) => result === true);
  if (healthy && !verbose) return text(200, "ok");
  const lines = results.map(([name, result]) =>
    result === true ? `[+]${name} ok` : `[-]${name} failed: ${result}`
  );
  lines.push(healthy ? `${kind} check passed` : `${kind} check failed`);
  return text(healthy ? 200 : 503, `${lines.join("\n")}\n`);
}

function text(status: number, body: string): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" },
  });
}

/** What `serveEndpoints` serves: health checks, and metrics unless `metricsAddr` is undefined. */
export interface EndpointParts {
  healthAddr: ListenAddress;
  metricsAddr: ListenAddress | undefined;
  health: HealthChecks;
  expose: () => string | Promise<string>;
}

/**
 * Starts one server per distinct address (port 0: one each, logged as bound); `shutdown()` waits
 * for in-flight requests.
 *
 * @throws {Deno.errors.AddrInUse} and the like when an address cannot be bound
 */
export function serveEndpoints(
  parts: EndpointParts,
  logger: Logger,
): { shutdown(): Promise<void> } {
  const metrics = async (request: Request) => {
    if (new URL(request.url).pathname !== "/metrics") return undefined;
    const headers = { "content-type": Registry.PROMETHEUS_CONTENT_TYPE };
    return new Response(await parts.expose(), { headers });
  };
  const endpoints = [
    { name: "health", addr: parts.healthAddr, handler: (r: Request) => parts.health.handle(r) },
    ...parts.metricsAddr ? [{ name: "metrics", addr: parts.metricsAddr, handler: metrics }] : [],
  ];
  const groups = Map.groupBy(
    endpoints,
    (endpoint, i) => endpoint.addr.port === 0 ? `#${i}` : formatListenAddress(endpoint.addr),
  );
  const servers: Deno.HttpServer<Deno.NetAddr>[] = [];
  try {
    for (const group of groups.values()) {
      const { hostname, port } = group[0]!.addr;
      const names = group.map((endpoint) => endpoint.name).join(",");
      servers.push(Deno.serve({
        hostname,
        port,
        onListen: (addr) =>
          logger.info("serving", { endpoints: names, address: formatListenAddress(addr) }),
      }, async (request) => {
        for (const { handler } of group) {
          const response = await handler(request);
          if (response) return response;
        }
        return new Response("404 page not found\n", { status: 404 });
      }));
    }
  } catch (error) {
    for (const server of servers) server.shutdown();
    throw error;
  }
  return {
    async shutdown() {
      await Promise.all(servers.map((server) => server.shutdown()));
    },
  };
}
