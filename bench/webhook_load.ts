/**
 * The webhook benchmark's load generator, in Deno so that `./deno task bench` needs nothing
 * installed (it replaces wrk). It runs as its own process, as wrk did, so the load and the server
 * under test do not share an event loop. Like wrk it keeps `connections` TLS connections open
 * (HTTP/1.1 keep-alive, one request in flight on each; opened before the clock starts) and sends
 * AdmissionReview bodies in turn; unlike wrk 4, the fixed-rate mode corrects for coordinated
 * omission as wrk2 does: each connection owns every `connections`-th slot of a fixed schedule,
 * and a request that an earlier response held back past its slot is measured from its slot, so a
 * stalled server shows up in the latency of every request it held back. A request sent on an idle
 * connection is measured from its send: the generator's own timer lateness (reported apart) is
 * not charged to the server. The latency from the actual send of every request (what wrk 4
 * reported) is kept as well.
 *
 * ```sh
 * deno run --allow-net --allow-read bench/webhook_load.ts '{"url":"https://127.0.0.1:9443/mutate-v1-pod",...}'
 * ```
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { frameResponse, type LoadReport, requestBytes, summarise } from "./webhook_load_http.ts";

/** One load run. */
export interface LoadRun {
  /** `https://127.0.0.1:<port>/<path>`. */
  url: string;
  /** PEM file of the CA that signed the server's certificate. */
  caFile: string;
  /** Files holding request bodies; each connection cycles through them. */
  bodyFiles: readonly string[];
  /** Seconds to run. */
  seconds: number;
  /** Open connections, one request in flight on each. */
  connections: number;
  /** Requests per second over all connections; unset = as fast as possible. */
  rate?: number;
  /** Send `Connection: close` and open a new connection (a new TLS handshake) per request. */
  closeEach?: boolean;
}

const READ_SIZE = 64 * 1024;

/** One keep-alive TLS connection with one request in flight at a time. */
class Connection {
  #conn: Deno.TlsConn;
  #buffer = new Uint8Array(READ_SIZE);
  #filled = 0;

  private constructor(conn: Deno.TlsConn) {
    this.#conn = conn;
  }

  static async open(url: URL, caCerts: string[]): Promise<Connection> {
    const tcp = await Deno.connect({ hostname: url.hostname, port: Number(url.port || 443) });
    // Deno.connectTls leaves Nagle on: each response would wait for a delayed ACK (40 ms).
    tcp.setNoDelay(true);
    const conn = await Deno.startTls(tcp, { hostname: url.hostname, caCerts });
    try {
      await conn.handshake();
    } catch (error) {
      conn.close();
      throw error;
    }
    return new Connection(conn);
  }

  /** Sends one request and reads its response; returns the status. */
  async exchange(request: Uint8Array): Promise<number> {
    for (let written = 0; written < request.length;) {
      written += await this.#conn.write(request.subarray(written));
    }
    while (true) {
      const framed = this.#filled > 0 ? frameResponse(this.#buffer, this.#filled) : undefined;
      if (framed !== undefined) {
        this.#buffer.copyWithin(0, framed.length, this.#filled);
        this.#filled -= framed.length;
        return framed.status;
      }
      if (this.#filled === this.#buffer.length) {
        const grown = new Uint8Array(this.#buffer.length * 2);
        grown.set(this.#buffer);
        this.#buffer = grown;
      }
      const read = await this.#conn.read(this.#buffer.subarray(this.#filled));
      if (read === null) throw new Error("the server closed the connection");
      this.#filled += read;
    }
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer.
    }
  }
}

/** A connection that has answered one request, or undefined when that failed (the run retries). */
async function warmConnection(
  url: URL,
  caCerts: string[],
  request: Uint8Array,
): Promise<Connection | undefined> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.open(url, caCerts);
    await connection.exchange(request);
    return connection;
  } catch {
    connection?.close();
    return undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs the load in this process and measures it.
 *
 * @throws the errors of reading the CA and body files
 */
export async function runLoad(run: LoadRun): Promise<LoadReport> {
  const url = new URL(run.url);
  const caCerts = [await Deno.readTextFile(run.caFile)];
  const requests = await Promise.all(
    run.bodyFiles.map(async (file) =>
      requestBytes(url, await Deno.readTextFile(file), { close: run.closeEach === true })
    ),
  );
  const scheduled: number[] = [];
  const sent: number[] = [];
  const late: number[] = [];
  let errors = 0;
  // A kept-alive connection is opened, and carries one unmeasured request, before the clock
  // starts, as the API server's pooled connections to a webhook are. Opened inside the run, the
  // TLS handshakes of all connections at once (and the first request of a cold generator) took
  // about 40 ms on a quiet machine: that was every run's max, and on the fixed schedule it held
  // back the next few requests of every connection, a large share of the slowest 1%.
  // With `closeEach` the handshake is what is measured, so it stays in the run.
  const opened = run.closeEach ? [] : await Promise.all(
    Array.from({ length: run.connections }, () => warmConnection(url, caCerts, requests[0]!)),
  );
  const start = performance.now();
  const end = start + run.seconds * 1000;
  const rate = run.rate;
  // wrk2's schedule: connection i sends at start + (i + k * connections) / rate.
  const interval = rate === undefined ? 0 : (1000 * run.connections) / rate;

  async function worker(index: number): Promise<void> {
    let next = rate === undefined ? start : start + (index * 1000) / rate;
    let connection: Connection | undefined = opened[index];
    for (let n = index;; n++) {
      const now = performance.now();
      if (rate === undefined ? now >= end : next >= end) break;
      // Held back by the server: the previous response came after this request's slot.
      const heldBack = now >= next;
      if (!heldBack) await sleep(next - now);
      const sentAt = performance.now();
      // Our own timer's lateness is not the server's: only a hold-up counts from the slot.
      const due = rate !== undefined && heldBack ? next : sentAt;
      if (rate !== undefined && !heldBack) late.push(sentAt - next);
      next += interval;
      try {
        connection ??= await Connection.open(url, caCerts);
        const status = await connection.exchange(requests[n % requests.length]!);
        const done = performance.now();
        scheduled.push(done - due);
        sent.push(done - sentAt);
        if (status < 200 || status > 299) errors++;
        if (run.closeEach) {
          connection.close();
          connection = undefined;
        }
      } catch {
        errors++;
        connection?.close();
        connection = undefined;
        await sleep(10); // a refused connection must not spin
      }
    }
    connection?.close();
  }

  await Promise.all(Array.from({ length: run.connections }, (_, i) => worker(i)));
  return summarise({
    scheduled: Float64Array.from(scheduled),
    sent: Float64Array.from(sent),
    late: Float64Array.from(late),
    errors,
    elapsedMs: performance.now() - start,
  });
}

/**
 * Runs the load in a child Deno process (so it does not share this process's event loop) and
 * returns its report.
 *
 * @throws {Error} when the child fails
 */
export async function runLoadProcess(run: LoadRun): Promise<LoadReport> {
  const script = fileURLToPath(import.meta.url);
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-read", script, JSON.stringify(run)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    throw new Error(`The load generator failed: ${new TextDecoder().decode(output.stderr)}`);
  }
  return JSON.parse(stdout) as LoadReport;
}

if (import.meta.main) {
  const report = await runLoad(JSON.parse(Deno.args[0] ?? "{}") as LoadRun);
  console.log(JSON.stringify(report));
}
