/**
 * The operator as a process (`mod.ts`), out of cluster with a kubeconfig, against a real
 * kube-apiserver: flags errors and help, readiness, a claim bound end to end, `/metrics`,
 * JSON logs, connection errors that name their cause, and a SIGTERM that exits 0 inside its timeout (idle webhook connections open) and
 * releases the Lease.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import {
  adminClients,
  boundClaim,
  claimObject,
  classObject,
  ensureNamespace,
  eventually,
} from "./controller_harness.ts";
import { startControlPlane } from "./controlplane/harness.ts";
import { createCa, createWebhookTls } from "./controlplane/pki.ts";
import { freePort } from "./controlplane/process.ts";

const MOD = fileURLToPath(new URL("../mod.ts", import.meta.url));
const OPERATOR_NAMESPACE = "hostport-e2e";
const LEASE = "f10832af.rmb938.com";

function operator(args: string[], env: Record<string, string> = {}): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MOD, ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Collects a stream's text as it arrives. */
function collect(stream: ReadableStream<Uint8Array>): { text: () => string; done: Promise<void> } {
  let text = "";
  const done = stream.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (text += chunk) }),
  );
  return { text: () => text, done };
}

Deno.test("mod.ts exits 2 with a one-line message for a bad flag, and 0 for --help", async () => {
  const bad = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MOD, "--log-level=loud"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(bad.stderr);
  assert.equal(bad.code, 2);
  assert.match(
    stderr,
    /^hostport-allocator: invalid value "loud" for --log-level: expected one of/,
  );
  assert.doesNotMatch(stderr, /\n\s+at /, "no stack trace");

  const help = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MOD, "--help"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(help.code, 0);
  assert.match(
    new TextDecoder().decode(help.stdout),
    /--leader-elect, --enable-leader-election\s+HOSTPORT_LEADER_ELECT/,
  );
});

Deno.test("mod.ts runs out of cluster, serves, binds a claim, and shuts down cleanly on SIGTERM", async () => {
  await using cp = await startControlPlane();
  using kube = await adminClients(cp);
  await ensureNamespace(kube, OPERATOR_NAMESPACE);
  await ensureNamespace(kube, "team-a");
  const tls = await cp.webhookTls();
  const certDir = await Deno.makeTempDir({ prefix: "hostport-e2e-certs-" });
  await Deno.copyFile(tls.certFile, `${certDir}/tls.crt`);
  await Deno.copyFile(tls.keyFile, `${certDir}/tls.key`);
  const [health, metrics, webhook] = [freePort(), freePort(), freePort()];
  const child = operator([
    "--kubeconfig",
    cp.kubeconfigPath,
    "--namespace",
    OPERATOR_NAMESPACE,
    "--enable-leader-election",
    `--health-addr=127.0.0.1:${health}`,
    `--metrics-addr=127.0.0.1:${metrics}`,
    `--webhook-addr=127.0.0.1:${webhook}`,
    `--webhook-cert-dir=${certDir}`,
    "--graceful-shutdown-timeout=10s",
  ], { HOSTPORT_LOG_LEVEL: "debug" });
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  let exited = false;
  const status = child.status.finally(() => exited = true);
  try {
    await eventually("/readyz to answer 200", async () => {
      if (exited) throw new Error(`the operator exited early:\n${stderr.text()}`);
      const response = await fetch(`http://127.0.0.1:${health}/readyz`).catch(() => undefined);
      const body = await response?.text();
      return response?.status === 200 ? body : undefined;
    }, 90_000);
    assert.equal(await (await fetch(`http://127.0.0.1:${health}/healthz`)).text(), "ok");

    await kube.hostPortClasses.create(classObject("e2e", [[31000, 31009]]));
    await kube.hostPortClaims.create(claimObject("team-a", "web", "e2e"));
    const { claim, hostPort } = await boundClaim(kube, "team-a", "web");
    assert.equal(claim.status?.port, hostPort.status?.port);

    const expected = [
      `leader_election_master_status{name="${LEASE}"} 1`,
      "# TYPE process_resident_memory_bytes gauge",
      "# TYPE controller_runtime_reconcile_total counter",
      'controller_runtime_reconcile_total{controller="hostportclaim",result="success"}',
      "# TYPE controller_runtime_webhook_requests_total counter",
      "# TYPE controller_runtime_webhook_latency_seconds histogram",
      "# TYPE hostport_webhook_tls_errors_total counter",
      // Process metrics: prom-client's defaults, and ours.
      "# TYPE process_cpu_seconds_total counter",
      "# TYPE process_start_time_seconds gauge",
      "# TYPE process_open_fds gauge",
      "# TYPE process_heap_used_bytes gauge",
      "# TYPE process_uptime_seconds gauge",
      "# TYPE process_event_loop_lag_seconds gauge",
    ];
    // A reconcile is counted once it returns, after the write that bound the claim.
    await eventually("/metrics to show the Lease held and the claim reconciled", async () => {
      const scrape = await fetch(`http://127.0.0.1:${metrics}/metrics`);
      assert.equal(scrape.status, 200);
      assert.match(scrape.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      const text = await scrape.text();
      const missing = expected.filter((line) => !text.includes(line));
      if (missing.length > 0) throw new Error(`metrics lack ${missing.join(", ")}`);
      return true;
    });
    const held = await kube.leases.get(LEASE, { namespace: OPERATOR_NAMESPACE });
    assert.ok(held.spec?.holderIdentity, "the operator holds the Lease");

    // An idle keep-alive connection (as the API server keeps one) and a connection that never
    // sent a request must not hold the shutdown up.
    const idle = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: webhook,
      caCerts: [tls.caPem],
    });
    await idle.write(new TextEncoder().encode("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert.ok((await idle.read(new Uint8Array(4096)) ?? 0) > 0, "the webhook answered");
    const unused = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: webhook,
      caCerts: [tls.caPem],
    });
    await unused.handshake();

    const signalled = performance.now();
    child.kill("SIGTERM");
    const { code } = await status;
    const exitMs = performance.now() - signalled;
    console.log(`exited ${code} ${Math.round(exitMs)} ms after SIGTERM (timeout 10 s)`);
    idle.close();
    unused.close();
    assert.equal(code, 0, stderr.text());
    assert.ok(exitMs < 10_000, `exited ${exitMs} ms after SIGTERM, not inside its 10 s timeout`);
    const released = await kube.leases.get(LEASE, { namespace: OPERATOR_NAMESPACE });
    assert.equal(released.spec?.holderIdentity, "", "the Lease was released on shutdown");
    await Promise.all([stdout.done, stderr.done]);
    const lines = stderr.text().trim().split("\n");
    for (const line of lines) {
      const record = JSON.parse(line);
      assert.ok(record.time && record.level && typeof record.msg === "string", line);
    }
    assert.ok(lines.some((line) => JSON.parse(line).msg === "stopped"));
  } finally {
    if (!exited) child.kill("SIGKILL");
    await status;
    await Deno.remove(certDir, { recursive: true });
  }
});

Deno.test("mod.ts logs why it cannot reach the API server (a wrong CA), not 'fetch failed'", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hostport-wrong-ca-" });
  const serving = await createWebhookTls(join(dir, "serving"));
  const other = await createCa(dir, "other-ca");
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: serving.certPem, key: serving.keyPem, onListen() {} },
    () => Response.json({}),
  );
  const kubeconfig = join(dir, "kubeconfig.yaml");
  await Deno.writeTextFile(
    kubeconfig,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{
        name: "c",
        cluster: {
          server: `https://127.0.0.1:${server.addr.port}`,
          "certificate-authority": other.certFile,
        },
      }],
      users: [{ name: "u", user: { token: "t" } }],
      contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
      "current-context": "ctx",
    }),
  );
  const certDir = join(dir, "certs");
  await Deno.mkdir(certDir);
  await Deno.copyFile(serving.certFile, join(certDir, "tls.crt"));
  await Deno.copyFile(serving.keyFile, join(certDir, "tls.key"));
  const child = operator([
    "--kubeconfig",
    kubeconfig,
    `--health-addr=127.0.0.1:${freePort()}`,
    "--metrics-addr=0",
    `--webhook-addr=127.0.0.1:${freePort()}`,
    `--webhook-cert-dir=${certDir}`,
    "--graceful-shutdown-timeout=5s",
  ]);
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  try {
    const cause = "TLS: invalid peer certificate: UnknownIssuer";
    await eventually(
      "a log line naming the TLS cause",
      () => Promise.resolve(stderr.text().includes(cause) ? true : undefined),
    );
    const lines = stderr.text().trim().split("\n").filter((line) => line.includes("Cannot reach"));
    assert.ok(lines.length > 0 && lines.every((line) => line.includes(cause)), stderr.text());
    assert.ok(!stderr.text().includes("fetch failed"), stderr.text());
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await Promise.all([stdout.done, stderr.done]);
    await Deno.remove(dir, { recursive: true });
  }
});
