import assert from "node:assert/strict";
import type { ClusterConfig, ExecSpec } from "./config.ts";
import {
  buildExecInfo,
  type CommandRunner,
  createCredentialSource,
  ExecCredentialError,
  ExecCredentialProvider,
  parseExecCredential,
} from "./credentials.ts";

const V1 = "client.authentication.k8s.io/v1" as const;

function spec(overrides: Partial<ExecSpec> = {}): ExecSpec {
  return {
    apiVersion: V1,
    command: "/bin/plugin",
    args: ["token"],
    env: [{ name: "PROFILE", value: "dev" }],
    provideClusterInfo: false,
    interactiveMode: "IfAvailable",
    ...overrides,
  };
}

function credential(status: Record<string, unknown>, apiVersion: string = V1): string {
  return JSON.stringify({ apiVersion, kind: "ExecCredential", status });
}

Deno.test("buildExecInfo() describes the request, with the cluster only when asked", () => {
  assert.deepEqual(JSON.parse(buildExecInfo(spec(), { server: "https://s", caPem: "CA" })), {
    apiVersion: V1,
    kind: "ExecCredential",
    spec: { interactive: false },
  });
  const withCluster = JSON.parse(
    buildExecInfo(spec({ provideClusterInfo: true }), { server: "https://s", caPem: "CA" }),
  );
  assert.deepEqual(withCluster.spec.cluster, {
    server: "https://s",
    "certificate-authority-data": btoa("CA"),
  });
});

Deno.test("parseExecCredential() returns the token, certificate and expiry", () => {
  const result = parseExecCredential(
    credential({
      token: "t",
      clientCertificateData: "CERT",
      clientKeyData: "KEY",
      expirationTimestamp: "2030-01-02T03:04:05Z",
    }),
    spec(),
  );
  assert.deepEqual(result, {
    token: "t",
    clientCertificate: { certPem: "CERT", keyPem: "KEY" },
    expiresAtMs: Date.parse("2030-01-02T03:04:05Z"),
  });
});

Deno.test("parseExecCredential() accepts the v1beta1 protocol when the kubeconfig asks for it", () => {
  const beta = "client.authentication.k8s.io/v1beta1" as const;
  const result = parseExecCredential(credential({ token: "b" }, beta), spec({ apiVersion: beta }));
  assert.equal(result.token, "b");
});

Deno.test("parseExecCredential() rejects bad output with the reason", () => {
  const cases: { stdout: string; detail: string }[] = [
    { stdout: "not json", detail: "its output is not JSON" },
    { stdout: "{}", detail: "its output is not an ExecCredential: apiVersion" },
    {
      stdout: credential({ token: "t" }, "client.authentication.k8s.io/v1beta1"),
      detail:
        'it returned apiVersion "client.authentication.k8s.io/v1beta1" but "client.authentication.k8s.io/v1" was asked',
    },
    { stdout: credential({}), detail: "it returned neither a token nor a certificate" },
    {
      stdout: credential({ clientCertificateData: "C" }),
      detail: "it returned only one of clientCertificateData and clientKeyData",
    },
  ];
  for (const c of cases) {
    assert.throws(() => parseExecCredential(c.stdout, spec()), (error: unknown) => {
      assert.ok(error instanceof ExecCredentialError);
      assert.ok(
        error.message.startsWith(
          `Cannot get credentials from exec plugin "/bin/plugin": ${c.detail}`,
        ),
        error.message,
      );
      return true;
    });
  }
});

function countingRunner(outputs: string[]) {
  const calls: { command: string; args: string[]; env: Record<string, string> }[] = [];
  const run: CommandRunner = (command, args, env) => {
    calls.push({ command, args, env });
    const stdout = outputs[Math.min(calls.length - 1, outputs.length - 1)]!;
    return Promise.resolve({ code: 0, stdout, stderr: "" });
  };
  return { calls, run };
}

Deno.test("ExecCredentialProvider caches until the expiry minus the margin", async () => {
  let now = Date.parse("2030-01-01T00:00:00Z");
  const { calls, run } = countingRunner([
    credential({ token: "first", expirationTimestamp: "2030-01-01T00:01:00Z" }),
    credential({ token: "second" }),
  ]);
  const provider = new ExecCredentialProvider(spec(), {
    cluster: { server: "https://s" },
    run,
    now: () => now,
    refreshMarginMs: 10_000,
  });
  assert.equal((await provider.get()).token, "first");
  now += 49_000;
  assert.equal((await provider.get()).token, "first");
  assert.equal(calls.length, 1);
  now += 1_000; // 10 s before expiry
  assert.equal((await provider.get()).token, "second");
  now += 3_600_000;
  assert.equal((await provider.get()).token, "second", "no expiry: cached until invalidated");
  assert.equal(calls.length, 2);
  provider.invalidate();
  await provider.get();
  assert.equal(calls.length, 3);
});

Deno.test("ExecCredentialProvider passes args, env and KUBERNETES_EXEC_INFO to the plugin", async () => {
  const { calls, run } = countingRunner([credential({ token: "t" })]);
  const provider = new ExecCredentialProvider(spec(), { cluster: { server: "https://s" }, run });
  await provider.get();
  assert.equal(calls[0]?.command, "/bin/plugin");
  assert.deepEqual(calls[0]?.args, ["token"]);
  assert.equal(calls[0]?.env.PROFILE, "dev");
  assert.equal(JSON.parse(calls[0]!.env.KUBERNETES_EXEC_INFO!).kind, "ExecCredential");
});

Deno.test("ExecCredentialProvider runs the plugin once for concurrent callers", async () => {
  const { calls, run } = countingRunner([credential({ token: "t" })]);
  const provider = new ExecCredentialProvider(spec(), { cluster: { server: "https://s" }, run });
  const results = await Promise.all([provider.get(), provider.get(), provider.get()]);
  assert.deepEqual(results.map((r) => r.token), ["t", "t", "t"]);
  assert.equal(calls.length, 1);
});

Deno.test("ExecCredentialProvider reports a failing plugin with its stderr and install hint", async () => {
  const failing = new ExecCredentialProvider(spec(), {
    cluster: { server: "https://s" },
    run: () => Promise.resolve({ code: 3, stdout: "", stderr: "line1\nexpired session\n" }),
  });
  await assert.rejects(failing.get(), {
    name: "ExecCredentialError",
    message:
      'Cannot get credentials from exec plugin "/bin/plugin": it exited with 3: line1 | expired session',
  });
  const missing = new ExecCredentialProvider(spec({ installHint: "brew install plugin" }), {
    cluster: { server: "https://s" },
    run: () => Promise.reject(new Error("No such file or directory")),
  });
  await assert.rejects(missing.get(), {
    message:
      'Cannot get credentials from exec plugin "/bin/plugin": cannot start it: No such file or directory (brew install plugin)',
  });
});

function config(auth: ClusterConfig["auth"], extra: Partial<ClusterConfig> = {}): ClusterConfig {
  return { server: "https://s", auth, namespace: "default", source: "test", ...extra };
}

Deno.test("createCredentialSource() sends a static token and the kubeconfig client certificate", async () => {
  const cert = { certPem: "C", keyPem: "K" };
  const source = createCredentialSource(
    config({ type: "token", token: "abc" }, { clientCertificate: cert }),
  );
  assert.deepEqual(await source.get(), { authorization: "Bearer abc", clientCertificate: cert });
});

Deno.test("createCredentialSource() encodes basic auth", async () => {
  const source = createCredentialSource(
    config({ type: "basic", username: "u", password: "p\u00e4" }),
  );
  const header = (await source.get()).authorization!;
  const bytes = Uint8Array.from(atob(header.slice("Basic ".length)), (c) => c.charCodeAt(0));
  assert.equal(new TextDecoder().decode(bytes), "u:p\u00e4");
});

Deno.test("createCredentialSource() re-reads a token file after the refresh period and after invalidate()", async () => {
  let now = 0;
  let content = "one\n";
  let reads = 0;
  const source = createCredentialSource(config({ type: "tokenFile", path: "/t" }), {
    now: () => now,
    tokenFileRefreshMs: 60_000,
    readFile: () => {
      reads++;
      return Promise.resolve(content);
    },
  });
  assert.equal((await source.get()).authorization, "Bearer one");
  content = "two";
  now = 59_999;
  assert.equal((await source.get()).authorization, "Bearer one");
  now = 60_000;
  assert.equal((await source.get()).authorization, "Bearer two", "rotated token picked up");
  content = "three";
  source.invalidate();
  assert.equal((await source.get()).authorization, "Bearer three", "re-read at once after a 401");
  assert.equal(reads, 3);
});

Deno.test("createCredentialSource() keeps the old token while a rotation leaves the file empty", async () => {
  let now = 0;
  let content = "one";
  const source = createCredentialSource(config({ type: "tokenFile", path: "/t" }), {
    now: () => now,
    readFile: () => Promise.resolve(content),
  });
  await source.get();
  content = "";
  now = 120_000;
  assert.equal((await source.get()).authorization, "Bearer one");
});

Deno.test("createCredentialSource() uses the token and certificate an exec plugin returns", async () => {
  const exec = {
    apiVersion: "client.authentication.k8s.io/v1" as const,
    command: "p",
    args: [],
    env: [],
    provideClusterInfo: false,
    interactiveMode: "Never" as const,
  };
  const stdout = JSON.stringify({
    apiVersion: exec.apiVersion,
    kind: "ExecCredential",
    status: { token: "x", clientCertificateData: "PC", clientKeyData: "PK" },
  });
  const source = createCredentialSource(config({ type: "exec", exec }), {
    run: () => Promise.resolve({ code: 0, stdout, stderr: "" }),
  });
  assert.deepEqual(await source.get(), {
    authorization: "Bearer x",
    clientCertificate: { certPem: "PC", keyPem: "PK" },
  });
});
