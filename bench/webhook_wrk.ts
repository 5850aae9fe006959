/**
 * Runs `wrk` (Debian's wrk 4.x) against an HTTPS URL with AdmissionReview bodies and parses its
 * report. Two Lua scripts: as fast as possible, or at a fixed request rate (wrk 4 has no `-R`; the
 * script spaces requests with `delay()` on a monotonic clock, per wrk thread).
 *
 * @module
 */
import { join } from "node:path";

/** What one wrk run measured. */
export interface WrkReport {
  /** Completed requests per second. */
  requestsPerSecond: number;
  /** Completed requests. */
  requests: number;
  /** Latency percentiles in milliseconds. */
  p50Ms: number;
  /** 90th percentile, ms. */
  p90Ms: number;
  /** 99th percentile, ms. */
  p99Ms: number;
  /** Slowest request, ms. */
  maxMs: number;
  /** Non-2xx responses plus socket errors (connect, read, write, timeout). */
  errors: number;
}

/** One wrk run. */
export interface WrkRun {
  /** `https://127.0.0.1:<port>/<path>`. */
  url: string;
  /** Files holding request bodies; requests cycle through them. */
  bodyFiles: readonly string[];
  /** Seconds to run. */
  seconds: number;
  /** Open connections (kept alive unless `closeEach`). */
  connections: number;
  /** wrk threads. */
  threads: number;
  /** Requests per second over all threads; unset = as fast as possible. */
  rate?: number;
  /** Send `Connection: close`, so every request makes a new TLS handshake. */
  closeEach?: boolean;
}

const SCRIPT = `
local bodies = {}
for path in string.gmatch(os.getenv("WRK_BODIES"), "[^:]+") do
  local f = assert(io.open(path, "r")); table.insert(bodies, f:read("*a")); f:close()
end
local headers = { ["Host"] = os.getenv("WRK_HOST"), ["Content-Type"] = "application/json" }
if os.getenv("WRK_CLOSE") == "1" then headers["Connection"] = "close" end
local requests = {}
for i, body in ipairs(bodies) do requests[i] = wrk.format("POST", nil, headers, body) end
local n = 0
function request()
  n = n + 1
  return requests[(n % #requests) + 1]
end
local rate = tonumber(os.getenv("WRK_RATE") or "0")
if rate > 0 then
  local ffi = require("ffi")
  ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } wrk_ts; int clock_gettime(int, wrk_ts *); ]]
  local ts = ffi.new("wrk_ts")
  local function now_ms() ffi.C.clock_gettime(1, ts); return tonumber(ts.tv_sec) * 1e3 + tonumber(ts.tv_nsec) / 1e6 end
  local interval = tonumber(os.getenv("WRK_THREADS")) * 1000 / rate
  local next_at = nil
  function delay()
    local t = now_ms()
    next_at = (next_at or t) + interval
    return math.max(0, next_at - t)
  end
end
`;

const UNITS_MS: Record<string, number> = { us: 1e-3, ms: 1, s: 1e3, m: 60e3 };

function durationMs(text: string | undefined): number {
  const match = text?.match(/^([\d.]+)(us|ms|s|m)$/);
  return match ? Number(match[1]) * UNITS_MS[match[2]!]! : Number.NaN;
}

/**
 * Parses wrk's `--latency` report.
 *
 * @throws {SyntaxError} when the report has no `Requests/sec` line
 */
export function parseWrkReport(text: string): WrkReport {
  const rate = text.match(/^Requests\/sec:\s+([\d.]+)/m);
  if (!rate) throw new SyntaxError(`Cannot parse the wrk report: ${text.slice(0, 400)}`);
  const percentile = (p: number) =>
    durationMs(text.match(new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m"))?.[1]);
  const latencyLine = text.match(/^\s+Latency\s+\S+\s+\S+\s+(\S+)/m);
  const socket = text.match(
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/,
  );
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  const non2xx = Number(text.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  return {
    requestsPerSecond: Number(rate[1]),
    requests: Number(text.match(/(\d+) requests in/)?.[1] ?? 0),
    p50Ms: percentile(50),
    p90Ms: percentile(90),
    p99Ms: percentile(99),
    maxMs: durationMs(latencyLine?.[1]),
    errors: socketErrors + non2xx,
  };
}

/**
 * Runs wrk once and parses its report.
 *
 * @throws {Error} when wrk is not installed or fails
 */
export async function runWrk(run: WrkRun, workDir: string): Promise<WrkReport> {
  const script = join(workDir, "admission.lua");
  await Deno.writeTextFile(script, SCRIPT);
  const args = [
    `-t${run.threads}`,
    `-c${run.connections}`,
    `-d${run.seconds}s`,
    "--latency",
    "-s",
    script,
    run.url,
  ];
  const command = new Deno.Command("wrk", {
    args,
    env: {
      WRK_BODIES: run.bodyFiles.join(":"),
      WRK_RATE: String(run.rate ?? 0),
      WRK_THREADS: String(run.threads),
      WRK_CLOSE: run.closeEach ? "1" : "0",
      WRK_HOST: new URL(run.url).host,
    },
    stdout: "piped",
    stderr: "piped",
  });
  let output: Deno.CommandOutput;
  try {
    output = await command.output();
  } catch (error) {
    throw new Error("Cannot run wrk: install it with `apt-get install -y wrk`", { cause: error });
  }
  const stdout = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    throw new Error(`wrk failed: ${new TextDecoder().decode(output.stderr)}${stdout}`);
  }
  return parseWrkReport(stdout);
}
