import assert from "node:assert/strict";
import type { ClusterConfig } from "./cluster_config.ts";
import { createCredentialSource } from "./credentials.ts";

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
