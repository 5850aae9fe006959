import assert from "node:assert/strict";
import {
  buildExecInfo,
  type ClusterConfig,
  type CommandRunner,
  createCredentialSource,
  ExecCredentialError,
  type ExecSpec,
  InClusterConfigError,
  isInCluster,
  KubeConfigError,
  parseExecCredential,
  parseKubeConfig,
  readKubeConfigFiles,
  resolveInClusterConfig,
  resolveKubeConfig,
  selectConfigSource,
} from "./config.ts";

const CA = "-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n";
const b64 = (s: string) => btoa(s);

function files(map: Record<string, string>) {
  return (path: string) => {
    const text = map[path];
    if (text === undefined) return Promise.reject(new Error(`No such file: ${path}`));
    return Promise.resolve(text);
  };
}

function load(texts: Record<string, string>) {
  return Promise.all(
    Object.entries(texts).map(async ([path, text]) => ({
      path,
      config: await parseKubeConfig(text, path),
    })),
  );
}

const BASIC = `
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: c1
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority: ca.crt
users:
- name: u1
  user:
    token: secret-token
contexts:
- name: dev
  context: {cluster: c1, user: u1, namespace: team-a}
- name: broken
  context: {cluster: nowhere, user: u1}
- name: nouser
  context: {cluster: c1, user: ghost}
`;

Deno.test("resolveKubeConfig() resolves the current context with a CA file relative to the kubeconfig", async () => {
  const merged = await load({ "/home/me/.kube/config": BASIC });
  const config = await resolveKubeConfig(merged, {
    readFile: files({ "/home/me/.kube/ca.crt": CA }),
  });
  assert.equal(config.server, "https://127.0.0.1:6443");
  assert.equal(config.caPem, CA);
  assert.deepEqual(config.auth, { type: "token", token: "secret-token" });
});

Deno.test("resolveKubeConfig() reports a context naming a cluster that is not defined", async () => {
  const merged = await load({ "/x": BASIC });
  await assert.rejects(
    resolveKubeConfig(merged, { context: "broken", readFile: files({ "/ca.crt": CA }) }),
    (error: unknown) => {
      assert.ok(error instanceof KubeConfigError);
      assert.equal(
        error.message,
        'Cannot load kubeconfig "/x": context "broken" names cluster "nowhere" which is not defined',
      );
      return true;
    },
  );
});

Deno.test("resolveKubeConfig() names each missing or wrong piece", async () => {
  const cases: { name: string; text: string; context?: string; message: string }[] = [
    {
      name: "unknown --context",
      text: BASIC,
      context: "prod",
      message: 'context "prod" is not defined',
    },
    {
      name: "unknown user",
      text: BASIC,
      context: "nouser",
      message: 'context "nouser" names user "ghost" which is not defined',
    },
    {
      name: "no current context",
      text: "clusters: []\ncontexts: []\n",
      message: "no context is selected: current-context is not set",
    },
    {
      name: "unreadable CA file",
      text: BASIC.replace("ca.crt", "/missing.crt"),
      message:
        'cannot read certificate-authority "/missing.crt" of cluster "c1": No such file: /missing.crt',
    },
    {
      name: "bad base64",
      text: BASIC.replace("certificate-authority: ca.crt", "certificate-authority-data: '%%%'"),
      message: 'cluster "c1" has invalid certificate-authority-data: it is not base64',
    },
    {
      name: "insecure",
      text: BASIC.replace("certificate-authority: ca.crt", "insecure-skip-tls-verify: true"),
      message: 'cluster "c1" sets insecure-skip-tls-verify, which this client does not support',
    },
    {
      name: "bad server",
      text: BASIC.replace("https://127.0.0.1:6443/", "ftp://x"),
      message: 'cluster "c1" has server "ftp://x" which is not an http(s) URL',
    },
    {
      name: "token and exec",
      text: BASIC.replace(
        "token: secret-token",
        "token: t\n    exec: {apiVersion: client.authentication.k8s.io/v1, command: x}",
      ),
      message: 'user "u1" sets more than one of token, exec',
    },
    {
      name: "auth-provider",
      text: BASIC.replace("token: secret-token", "auth-provider: {name: gcp}"),
      message: 'user "u1" uses auth-provider "gcp", which is not supported',
    },
    {
      name: "cert without key",
      text: BASIC.replace("token: secret-token", `client-certificate-data: ${b64("cert")}`),
      message: 'user "u1" has a client certificate but no client key',
    },
  ];
  for (const c of cases) {
    const merged = await load({ "/k": c.text });
    await assert.rejects(
      resolveKubeConfig(merged, { context: c.context, readFile: files({ "/ca.crt": CA }) }),
      { name: "KubeConfigError", message: `Cannot load kubeconfig "/k": ${c.message}` },
      c.name,
    );
  }
});

Deno.test("parseKubeConfig() rejects invalid YAML and a wrong shape with the path of the problem", async () => {
  await assert.rejects(parseKubeConfig("clusters: [", "/bad"), (error: unknown) => {
    assert.ok(error instanceof KubeConfigError);
    assert.match(error.message, /^Cannot load kubeconfig "\/bad": invalid YAML: /);
    return true;
  });
  await assert.rejects(
    parseKubeConfig("clusters:\n- name: c\n  cluster: {}\n", "/shape"),
    {
      message:
        'Cannot load kubeconfig "/shape": invalid kubeconfig: clusters[0].cluster.server: Invalid input: expected string, received undefined',
    },
  );
});

Deno.test("parseKubeConfig() accepts an empty file and null lists", async () => {
  assert.deepEqual(await parseKubeConfig("", "/e"), {});
  const config = await parseKubeConfig("clusters: null\nusers:\ncontexts: []\n", "/n");
  assert.equal(config.clusters, null);
});

Deno.test("resolveKubeConfig() lets the first of several files win for each name and for current-context", async () => {
  const first = `
current-context: a
clusters: [{name: shared, cluster: {server: "https://first:1"}}]
users: [{name: shared, user: {token: first}}]
contexts: [{name: a, context: {cluster: shared, user: shared}}]
`;
  const second = `
current-context: b
clusters:
- {name: shared, cluster: {server: "https://second:2"}}
- {name: only2, cluster: {server: "https://only2:3"}}
users: [{name: shared, user: {token: second}}]
contexts:
- {name: a, context: {cluster: only2}}
- {name: b, context: {cluster: only2, user: shared}}
`;
  const merged = await load({ "/one": first, "/two": second });
  const a = await resolveKubeConfig(merged, { readFile: files({}) });
  assert.equal(a.server, "https://first:1");
  assert.deepEqual(a.auth, { type: "token", token: "first" });
  const b = await resolveKubeConfig(merged, { context: "b", readFile: files({}) });
  assert.equal(b.server, "https://only2:3");
  assert.deepEqual(b.auth, { type: "token", token: "first" }, "user 'shared' from the first file");
});

Deno.test("resolveKubeConfig() takes current-context from a later file when the first has none", async () => {
  const merged = await load({
    "/one": "clusters: [{name: c, cluster: {server: 'https://one:1'}}]",
    "/two": "current-context: later\ncontexts: [{name: later, context: {cluster: c}}]",
  });
  const config = await resolveKubeConfig(merged, { readFile: files({}) });
  assert.equal(config.server, "https://one:1");
});

Deno.test("resolveKubeConfig() reads client certificates as data or as files", async () => {
  const withData = BASIC.replace(
    "token: secret-token",
    `client-certificate-data: ${b64("CERT")}\n    client-key-data: ${b64("KEY")}`,
  );
  const fromData = await resolveKubeConfig(await load({ "/k": withData }), {
    readFile: files({ "/ca.crt": CA }),
  });
  assert.deepEqual(fromData.clientCertificate, { certPem: "CERT", keyPem: "KEY" });
  assert.deepEqual(fromData.auth, { type: "none" });

  const withFiles = BASIC.replace(
    "token: secret-token",
    "client-certificate: pki/admin.crt\n    client-key: /abs/admin.key",
  );
  const fromFiles = await resolveKubeConfig(await load({ "/etc/k/config": withFiles }), {
    readFile: files({ "/etc/k/ca.crt": CA, "/etc/k/pki/admin.crt": "C", "/abs/admin.key": "K" }),
  });
  assert.deepEqual(fromFiles.clientCertificate, { certPem: "C", keyPem: "K" });
});

Deno.test("resolveKubeConfig() prefers certificate-authority-data over the file", async () => {
  const text = BASIC.replace(
    "certificate-authority: ca.crt",
    `certificate-authority: ca.crt\n    certificate-authority-data: ${b64("DATA-CA")}`,
  );
  const config = await resolveKubeConfig(await load({ "/k": text }), { readFile: files({}) });
  assert.equal(config.caPem, "DATA-CA");
});

Deno.test("resolveKubeConfig() resolves tokenFile, basic auth and exec settings", async () => {
  const tokenFile = await resolveKubeConfig(
    await load({ "/d/k": BASIC.replace("token: secret-token", "tokenFile: tok") }),
    { readFile: files({ "/d/ca.crt": CA }) },
  );
  assert.deepEqual(tokenFile.auth, { type: "tokenFile", path: "/d/tok" });

  const basic = await resolveKubeConfig(
    await load({ "/k": BASIC.replace("token: secret-token", "username: u\n    password: p") }),
    { readFile: files({ "/ca.crt": CA }) },
  );
  assert.deepEqual(basic.auth, { type: "basic", username: "u", password: "p" });

  const exec = BASIC.replace(
    "token: secret-token",
    `exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: ./bin/plugin
      args: [get-token]
      env: [{name: FOO, value: bar}]
      provideClusterInfo: true
      installHint: install it`,
  );
  const config = await resolveKubeConfig(await load({ "/d/k": exec }), {
    readFile: files({ "/d/ca.crt": CA }),
  });
  assert.deepEqual(config.auth, {
    type: "exec",
    exec: {
      apiVersion: "client.authentication.k8s.io/v1beta1",
      command: "/d/bin/plugin",
      args: ["get-token"],
      env: [{ name: "FOO", value: "bar" }],
      provideClusterInfo: true,
      interactiveMode: "IfAvailable",
      installHint: "install it",
    },
  });
});

Deno.test("resolveKubeConfig() leaves an exec command without a slash to the PATH", async () => {
  const exec = BASIC.replace(
    "token: secret-token",
    "exec: {apiVersion: client.authentication.k8s.io/v1, command: aws}",
  );
  const config = await resolveKubeConfig(await load({ "/d/k": exec }), {
    readFile: files({ "/d/ca.crt": CA }),
  });
  assert.equal(config.auth.type === "exec" && config.auth.exec.command, "aws");
});

Deno.test("resolveKubeConfig() accepts a context without a user", async () => {
  const text =
    "current-context: x\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:8080'}}]\n" +
    "contexts: [{name: x, context: {cluster: c}}]\n";
  const config = await resolveKubeConfig(await load({ "/k": text }), { readFile: files({}) });
  assert.deepEqual(config.auth, { type: "none" });
  assert.equal(config.server, "http://127.0.0.1:8080");
  assert.equal(config.caPem, undefined);
});

Deno.test("selectConfigSource() follows --kubeconfig, KUBECONFIG, in-cluster, ~/.kube/config", () => {
  const inputs = { kubeconfigEnv: "/a:/b", home: "/home/me", inCluster: true };
  assert.deepEqual(selectConfigSource({ ...inputs, kubeconfigFlag: "/flag" }), {
    type: "files",
    paths: ["/flag"],
    explicit: true,
  });
  assert.deepEqual(selectConfigSource(inputs), {
    type: "files",
    paths: ["/a", "/b"],
    explicit: false,
  });
  assert.deepEqual(selectConfigSource({ ...inputs, kubeconfigEnv: "" }), { type: "in-cluster" });
  assert.deepEqual(selectConfigSource({ home: "/home/me", inCluster: false }), {
    type: "files",
    paths: ["/home/me/.kube/config"],
    explicit: false,
  });
});

Deno.test("selectConfigSource() ignores empty entries of KUBECONFIG", () => {
  assert.deepEqual(selectConfigSource({ kubeconfigEnv: ":/a::/b:", inCluster: false }), {
    type: "files",
    paths: ["/a", "/b"],
    explicit: false,
  });
});

function notFound(path: string): Error {
  const error = new Error(`No such file or directory (os error 2): readfile '${path}'`);
  error.name = "NotFound";
  return error;
}

const reader = (files: Record<string, string>) => (path: string) =>
  files[path] === undefined ? Promise.reject(notFound(path)) : Promise.resolve(files[path]!);

Deno.test("readKubeConfigFiles() skips missing files of a KUBECONFIG list", async () => {
  const loaded = await readKubeConfigFiles(["/missing", "/there"], {
    explicit: false,
    readFile: reader({ "/there": "current-context: x" }),
  });
  assert.deepEqual(loaded.map((f) => f.path), ["/there"]);
  assert.equal(loaded[0]?.config["current-context"], "x");
});

Deno.test("readKubeConfigFiles() fails when an explicit --kubeconfig file is missing", async () => {
  await assert.rejects(
    readKubeConfigFiles(["/nope"], { explicit: true, readFile: reader({}) }),
    (error: unknown) => {
      assert.ok(error instanceof KubeConfigError);
      assert.match(
        error.message,
        /^Cannot load kubeconfig "\/nope": cannot read the file: No such file/,
      );
      return true;
    },
  );
});

Deno.test("readKubeConfigFiles() fails when no file of the list exists", async () => {
  await assert.rejects(
    readKubeConfigFiles(["/a", "/b"], { explicit: false, readFile: reader({}) }),
    {
      name: "KubeConfigError",
      message: 'Cannot load kubeconfig "/a:/b": no such file, and no in-cluster service account',
    },
  );
});

Deno.test("readKubeConfigFiles() reports a file it cannot read for another reason", async () => {
  const denied = () =>
    Promise.reject(Object.assign(new Error("Permission denied"), { name: "PermissionDenied" }));
  await assert.rejects(readKubeConfigFiles(["/a"], { explicit: false, readFile: denied }), {
    message: 'Cannot load kubeconfig "/a": cannot read the file: Permission denied',
  });
});

const SA = "/var/run/secrets/kubernetes.io/serviceaccount";

function env(vars: Record<string, string>) {
  return (name: string) => vars[name];
}

const MOUNT = { [`${SA}/token`]: "tok\n", [`${SA}/ca.crt`]: "CA" };

Deno.test("resolveInClusterConfig() uses the service host, the SA token file and CA", async () => {
  const config = await resolveInClusterConfig({
    env: env({ KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" }),
    readFile: files(MOUNT),
  });
  assert.deepEqual(config, {
    server: "https://10.0.0.1:443",
    caPem: "CA",
    auth: { type: "tokenFile", path: `${SA}/token` },
  });
});

Deno.test("resolveInClusterConfig() brackets an IPv6 host", async () => {
  const config = await resolveInClusterConfig({
    env: env({ KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "6443" }),
    readFile: files({ [`${SA}/token`]: "t", [`${SA}/ca.crt`]: "CA" }),
  });
  assert.equal(config.server, "https://[fd00::1]:6443");
});

Deno.test("resolveInClusterConfig() names what is missing", async () => {
  await assert.rejects(
    resolveInClusterConfig({ env: env({}), readFile: files(MOUNT) }),
    {
      name: "InClusterConfigError",
      message:
        "Cannot load in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set",
    },
  );
  await assert.rejects(
    resolveInClusterConfig({
      env: env({ KUBERNETES_SERVICE_HOST: "h", KUBERNETES_SERVICE_PORT: "443" }),
      readFile: files({}),
    }),
    (error: unknown) => {
      assert.ok(error instanceof InClusterConfigError);
      assert.equal(
        error.message,
        `Cannot load in-cluster config: cannot read the service account token "${SA}/token": No such file: ${SA}/token`,
      );
      return true;
    },
  );
});

Deno.test("isInCluster() needs both service variables", () => {
  assert.equal(isInCluster(env({ KUBERNETES_SERVICE_HOST: "h" })), false);
  assert.equal(
    isInCluster(env({ KUBERNETES_SERVICE_HOST: "h", KUBERNETES_SERVICE_PORT: "1" })),
    true,
  );
});

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
    credentials: {
      authorization: "Bearer t",
      clientCertificate: { certPem: "CERT", keyPem: "KEY" },
    },
    expiresAtMs: Date.parse("2030-01-02T03:04:05Z"),
  });
});

Deno.test("parseExecCredential() accepts the v1beta1 protocol when the kubeconfig asks for it", () => {
  const beta = "client.authentication.k8s.io/v1beta1" as const;
  const result = parseExecCredential(credential({ token: "b" }, beta), spec({ apiVersion: beta }));
  assert.equal(result.credentials.authorization, "Bearer b");
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

function config(auth: ClusterConfig["auth"], extra: Partial<ClusterConfig> = {}): ClusterConfig {
  return { server: "https://s", auth, ...extra };
}

/** The credential source of an exec user with `spec()`, running `run`. */
function execSource(options: Parameters<typeof createCredentialSource>[1], exec = spec()) {
  return createCredentialSource(config({ type: "exec", exec }), options);
}

function countingRunner(outputs: string[]) {
  const calls: { command: string; args: string[]; env: Record<string, string> }[] = [];
  const run: CommandRunner = (command, args, env) => {
    calls.push({ command, args, env });
    const stdout = outputs[Math.min(calls.length - 1, outputs.length - 1)]!;
    return Promise.resolve({ code: 0, stdout, stderr: "" });
  };
  return { calls, run };
}

Deno.test("createCredentialSource() caches an exec credential until the expiry minus the margin", async () => {
  let now = Date.parse("2030-01-01T00:00:00Z");
  const { calls, run } = countingRunner([
    credential({ token: "first", expirationTimestamp: "2030-01-01T00:01:00Z" }),
    credential({ token: "second" }),
  ]);
  const provider = execSource({ run, now: () => now });
  assert.equal((await provider.get()).authorization, "Bearer first");
  now += 49_000;
  assert.equal((await provider.get()).authorization, "Bearer first");
  assert.equal(calls.length, 1);
  now += 1_000; // 10 s before expiry
  assert.equal((await provider.get()).authorization, "Bearer second");
  now += 3_600_000;
  assert.equal(
    (await provider.get()).authorization,
    "Bearer second",
    "no expiry: cached until invalidated",
  );
  assert.equal(calls.length, 2);
  provider.invalidate!();
  await provider.get();
  assert.equal(calls.length, 3);
});

Deno.test("createCredentialSource() passes args, env and KUBERNETES_EXEC_INFO to the plugin", async () => {
  const { calls, run } = countingRunner([credential({ token: "t" })]);
  const provider = execSource({ run });
  await provider.get();
  assert.equal(calls[0]?.command, "/bin/plugin");
  assert.deepEqual(calls[0]?.args, ["token"]);
  assert.equal(calls[0]?.env.PROFILE, "dev");
  assert.equal(JSON.parse(calls[0]!.env.KUBERNETES_EXEC_INFO!).kind, "ExecCredential");
});

Deno.test("createCredentialSource() runs the plugin once for concurrent callers", async () => {
  const { calls, run } = countingRunner([credential({ token: "t" })]);
  const provider = execSource({ run });
  const results = await Promise.all([provider.get(), provider.get(), provider.get()]);
  assert.deepEqual(results.map((r) => r.authorization), ["Bearer t", "Bearer t", "Bearer t"]);
  assert.equal(calls.length, 1);
});

Deno.test("createCredentialSource() reports a failing plugin with its stderr and install hint", async () => {
  const failing = execSource({
    run: () => Promise.resolve({ code: 3, stdout: "", stderr: "line1\nexpired session\n" }),
  });
  await assert.rejects(failing.get(), {
    name: "ExecCredentialError",
    message:
      'Cannot get credentials from exec plugin "/bin/plugin": it exited with 3: line1 | expired session',
  });
  const missing = execSource(
    { run: () => Promise.reject(new Error("No such file or directory")) },
    spec({ installHint: "brew install plugin" }),
  );
  await assert.rejects(missing.get(), {
    message:
      'Cannot get credentials from exec plugin "/bin/plugin": cannot start it: No such file or directory (brew install plugin)',
  });
});

Deno.test("createCredentialSource() sends a static token and the kubeconfig client certificate", async () => {
  const cert = { certPem: "C", keyPem: "K" };
  const source = createCredentialSource(
    config({ type: "token", token: "abc" }, { clientCertificate: cert }),
  );
  assert.deepEqual(await source.get(), { authorization: "Bearer abc", clientCertificate: cert });
  assert.equal(source.invalidate, undefined, "fixed: a 401 is not retried");
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
  source.invalidate!();
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
