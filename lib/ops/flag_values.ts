/**
 * Parsers for the value types of command-line flags: durations (`15s`, `1m30s`, `500ms`),
 * listen addresses (`:8081`, `127.0.0.1:9443`, `[::1]:8080`) and booleans. Each returns a
 * result value; a bad input is an expected outcome for user-supplied flags.
 *
 * @module
 */

/** A parsed value, or the reason the text was refused. */
export type ValueResult<T> = { ok: true; value: T } | { ok: false; reason: string };

const DURATION_UNITS_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parses a Go-style duration (`15s`, `1m30s`, `1.5s`, `250ms`, `0`) into milliseconds.
 *
 * @example Parse a lease duration
 * ```ts
 * import { parseDuration } from "./flag_values.ts";
 * parseDuration("1m30s"); // { ok: true, value: 90000 }
 * ```
 */
export function parseDuration(text: string): ValueResult<number> {
  const trimmed = text.trim();
  if (trimmed === "0") return { ok: true, value: 0 };
  const part = /(\d+(?:\.\d+)?)(ms|h|m|s)/y;
  let total = 0;
  let matched = 0;
  while (matched < trimmed.length) {
    part.lastIndex = matched;
    const found = part.exec(trimmed);
    if (!found) break;
    total += Number(found[1]) * DURATION_UNITS_MS[found[2]!]!;
    matched = part.lastIndex;
  }
  if (trimmed === "" || matched !== trimmed.length) {
    return { ok: false, reason: "expected a duration such as 15s, 500ms or 1m30s" };
  }
  return { ok: true, value: Math.round(total) };
}

/** Where a server listens. */
export interface ListenAddress {
  /** The interface, for example `0.0.0.0` (all) or `127.0.0.1`. */
  hostname: string;
  /** The TCP port; 0 picks a free one. */
  port: number;
}

/**
 * Parses `host:port`, `:port` (all interfaces) or `[ipv6]:port`.
 *
 * @example
 * ```ts
 * import { parseListenAddress } from "./flag_values.ts";
 * parseListenAddress(":8081"); // { ok: true, value: { hostname: "0.0.0.0", port: 8081 } }
 * ```
 */
export function parseListenAddress(text: string): ValueResult<ListenAddress> {
  const found = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = Number(found?.[3]);
  if (!found || port > 65535) {
    return { ok: false, reason: "expected host:port or :port with a port from 0 to 65535" };
  }
  const hostname = found[1] ?? (found[2] === "" ? "0.0.0.0" : found[2]!);
  return { ok: true, value: { hostname, port } };
}

/** Formats an address as `host:port` (`[::1]:8080` for IPv6). */
export function formatListenAddress(address: ListenAddress): string {
  const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
  return `${host}:${address.port}`;
}

const TRUE_WORDS = new Set(["true", "1", "t", "yes", "y", "on"]);
const FALSE_WORDS = new Set(["false", "0", "f", "no", "n", "off"]);

/** Parses a boolean the way Go's `strconv.ParseBool` does (plus yes/no/on/off). */
export function parseBoolean(text: string): ValueResult<boolean> {
  const word = text.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return { ok: true, value: true };
  if (FALSE_WORDS.has(word)) return { ok: true, value: false };
  return { ok: false, reason: "expected true or false" };
}
