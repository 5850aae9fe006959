/**
 * Plain-HTTP servers for the operational endpoints (`/healthz`, `/readyz`, `/metrics`).
 * Routes that share an address share one server.
 *
 * @module
 */
import type { Logger } from "./contracts.ts";
import { formatListenAddress, type ListenAddress } from "./flag_values.ts";
import { Registry } from "prom-client";

/** Answers a request, or resolves undefined when the path is not its own. */
export type RouteHandler = (
  request: Request,
) => Response | undefined | Promise<Response | undefined>;

/** Handlers to serve on one address. */
export interface Endpoint {
  /** What the endpoint is, for logs (`health`, `metrics`). */
  name: string;
  /** Where to listen. */
  addr: ListenAddress;
  /** The handler. */
  handler: RouteHandler;
}

/** Running endpoint servers. */
export interface EndpointServers {
  /** The bound address of each endpoint by name (the port is real when 0 was asked). */
  addresses: Map<string, ListenAddress>;
  /** Stops accepting connections and waits for in-flight requests. */
  shutdown(): Promise<void>;
}

/** Builds one handler that tries each route in turn, answering 404 when none matches. */
export function routeAll(
  handlers: readonly RouteHandler[],
): (request: Request) => Promise<Response> {
  return async (request) => {
    for (const handler of handlers) {
      const response = await handler(request);
      if (response) return response;
    }
    return new Response("404 page not found\n", { status: 404 });
  };
}

/**
 * Starts one server per distinct address (port 0: one each).
 *
 * @throws {Deno.errors.AddrInUse} and the like when an address cannot be bound
 */
export function serveEndpoints(endpoints: readonly Endpoint[], logger: Logger): EndpointServers {
  const groups = new Map<string, Endpoint[]>();
  for (const [i, endpoint] of endpoints.entries()) {
    // Port 0 asks for a fresh port each time, so it never shares a server.
    const key = endpoint.addr.port === 0 ? `#${i}` : formatListenAddress(endpoint.addr);
    groups.set(key, [...groups.get(key) ?? [], endpoint]);
  }
  const servers: Deno.HttpServer<Deno.NetAddr>[] = [];
  const addresses = new Map<string, ListenAddress>();
  try {
    for (const group of groups.values()) {
      const { hostname, port } = group[0]!.addr;
      const names = group.map((endpoint) => endpoint.name).join(",");
      const server = Deno.serve({
        hostname,
        port,
        onListen: (addr) =>
          logger.info("serving", { endpoints: names, address: formatListenAddress(addr) }),
      }, routeAll(group.map((endpoint) => endpoint.handler)));
      servers.push(server);
      for (const endpoint of group) {
        addresses.set(endpoint.name, { hostname: server.addr.hostname, port: server.addr.port });
      }
    }
  } catch (error) {
    for (const server of servers) server.shutdown();
    throw error;
  }
  return {
    addresses,
    async shutdown() {
      await Promise.all(servers.map((server) => server.shutdown()));
    },
  };
}

/** Serves `GET /metrics` from `expose` in the Prometheus text format. */
export function metricsRoute(expose: () => string | Promise<string>): RouteHandler {
  return async (request) => {
    if (new URL(request.url).pathname !== "/metrics") return undefined;
    return new Response(await expose(), {
      headers: { "content-type": Registry.PROMETHEUS_CONTENT_TYPE },
    });
  };
}

/** The health endpoint, and the metrics endpoint unless disabled (`metricsAddr` undefined). */
export function operationalEndpoints(
  addresses: { healthAddr: ListenAddress; metricsAddr: ListenAddress | undefined },
  health: { handle(request: Request): Response | undefined },
  expose: () => string | Promise<string>,
): Endpoint[] {
  const endpoints: Endpoint[] = [
    { name: "health", addr: addresses.healthAddr, handler: (request) => health.handle(request) },
  ];
  if (addresses.metricsAddr) {
    endpoints.push({ name: "metrics", addr: addresses.metricsAddr, handler: metricsRoute(expose) });
  }
  return endpoints;
}
