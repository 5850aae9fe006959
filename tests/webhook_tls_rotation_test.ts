/**
 * Certificate rotation under load: the server reads its pair from files (as from a mounted
 * Secret), the files are replaced while requests flow over kept-alive and new connections, and
 * no request fails; new handshakes get the new certificate.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { WEBHOOK_PATHS } from "../webhook/configurations.ts";
import { startWebhookServer } from "../webhook/server.ts";
import type { PemPair } from "../webhook/tls_certs.ts";
import { PrometheusRegistry } from "../lib/ops/metrics_registry.ts";
import {
  allocatedHostPort,
  boundClaim,
  issueServing,
  memoryLookups,
  metricValue,
  ObservedFileSource,
  podReview,
  testPki,
  webPod,
} from "./webhook_fixtures.ts";
import { eventually } from "./controller_harness.ts";

const REQUESTS = 3000;
/** Bounds a run that stopped making progress; generous, as a loaded machine is slow. */
const DEADLINE_MS = 120_000;

/** Replaces a file the way a Secret volume does: write aside, then rename into place. */
async function replaceFile(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(`${path}.tmp`, text);
  await Deno.rename(`${path}.tmp`, path);
}

async function writePair(dir: string, pair: PemPair, keyPem = pair.keyPem): Promise<void> {
  await replaceFile(join(dir, "tls.key"), keyPem);
  await replaceFile(join(dir, "tls.crt"), pair.certPem);
}

async function handshakeTrusting(port: number, caPem: string): Promise<boolean> {
  try {
    const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [caPem] });
    try {
      await conn.handshake();
      return true;
    } finally {
      conn.close();
    }
  } catch {
    return false;
  }
}

interface Load {
  ok: number;
  failures: string[];
  sent: number;
}

async function worker(url: string, body: string, caCerts: string[], load: Load, fresh: boolean) {
  const started = Date.now();
  let shared = fresh ? undefined : Deno.createHttpClient({ caCerts });
  try {
    while (load.sent < REQUESTS && Date.now() - started < DEADLINE_MS) {
      load.sent++;
      const client = shared ?? Deno.createHttpClient({ caCerts, poolMaxIdlePerHost: 0 });
      try {
        const response = await fetch(url, {
          method: "POST",
          client,
          headers: { "content-type": "application/json" },
          body,
        });
        const review = await response.json();
        if (response.status === 200 && review.response?.allowed === true) load.ok++;
        else load.failures.push(`HTTP ${response.status}: ${JSON.stringify(review)}`);
      } catch (error) {
        load.failures.push(String(error));
      } finally {
        if (shared === undefined) client.close();
      }
    }
  } finally {
    shared?.close();
    shared = undefined;
  }
}

Deno.test("rotating the certificate files while requests flow fails no request", async () => {
  const dir = await Deno.makeTempDir({ prefix: "webhook-rotation-" });
  const first = await testPki("first-ca");
  const second = await testPki("second-ca");
  const third = await issueServing(second.ca);
  await writePair(dir, first.serving);

  const stop = new AbortController();
  const source = new ObservedFileSource({ dir, intervalMs: 50 });
  await source.start(stop.signal);
  const metrics = new PrometheusRegistry();
  const server = await startWebhookServer({
    certificates: source,
    lookups: memoryLookups([boundClaim("ns1", "a")], [allocatedHostPort("hpc-a", 9000)]),
    hostname: "127.0.0.1",
    port: 0,
    metrics,
  });
  try {
    const url = `https://127.0.0.1:${server.port}${WEBHOOK_PATHS.mutatePod}`;
    const body = JSON.stringify(podReview("rotation", "ns1", webPod("ns1", "p", "a")));
    const caCerts = [first.ca.certPem, second.ca.certPem];
    const load: Load = { ok: 0, failures: [], sent: 0 };
    const workers = [false, false, true, true].map((fresh) =>
      worker(url, body, caCerts, load, fresh)
    );

    const rotations = (async () => {
      const waitFor = async (sent: number) => {
        await eventually(
          `${sent} requests to be sent`,
          () => load.sent >= sent || undefined,
          DEADLINE_MS,
        );
      };
      await waitFor(REQUESTS / 4);
      await writePair(dir, second.serving); // new CA and key
      await waitFor(REQUESTS / 2);
      await writePair(dir, third, first.serving.keyPem); // a key that does not match: ignored
      await waitFor((REQUESTS * 5) / 8);
      await writePair(dir, third); // same CA, new key
    })();
    await Promise.all([...workers, rotations]);

    assert.deepEqual(load.failures.slice(0, 5), []);
    assert.equal(load.ok, load.sent);
    assert.ok(load.sent >= REQUESTS, `only ${load.sent} requests were sent before the deadline`);
    // New handshakes get the last good certificate: the second CA's, no longer the first's.
    await eventually(
      "a new handshake to present a certificate of the second CA",
      async () => await handshakeTrusting(server.port, second.ca.certPem) || undefined,
    );
    assert.equal(await handshakeTrusting(server.port, first.ca.certPem), false);
    await eventually(
      "the server to have reloaded up to the third pair",
      async () =>
        source.current()?.certPem === third.certPem &&
          await metricValue(metrics, "hostport_webhook_certificate_reloads_total") >= 2 ||
        undefined,
    );
  } finally {
    await server.shutdown();
    await source.stop(stop);
    await Deno.remove(dir, { recursive: true });
  }
});
