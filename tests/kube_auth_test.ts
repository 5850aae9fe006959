/**
 * Authentication and authorization of KubeRestClient against a real kube-apiserver: client
 * certificates (files and data), bearer tokens, rotating token files, exec plugins, in-cluster
 * settings, 401 Unauthorized and 403 Forbidden.
 */
import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import { join } from "node:path";
import { stringify } from "yaml";
import {
  type ClusterConfig,
  createKubeClients,
  ForbiddenError,
  HOST_PORT_CLASS_RESOURCE,
  Informer,
  KubeConnectionError,
  KubeRestClient,
  loadClusterConfig,
  resolveInClusterConfig,
  ResourceClient,
  type RestClient,
  UnauthorizedError,
} from "../lib/kube/mod.ts";
import { eventually } from "./controller_harness.ts";
import { type ControlPlane, startControlPlane } from "./controlplane/harness.ts";
import { createCa } from "./controlplane/pki.ts";
import { closing } from "./core_clients.ts";

function uniqueName(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Asks the API server who we are (SelfSubjectReview). */
async function whoAmI(rest: RestClient): Promise<string> {
  const review = await rest.performRequest({
    method: "POST",
    path: "/apis/authentication.k8s.io/v1/selfsubjectreviews",
    bodyJson: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
  }) as { status: { userInfo: { username: string } } };
  return review.status.userInfo.username;
}

function kubeconfigYaml(cp: ControlPlane, user: Record<string, unknown>): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster: { server: cp.url, "certificate-authority": cp.caFile } }],
    users: [{ name: "u", user }],
    contexts: [{ name: "ctx", context: { cluster: "c", user: "u", namespace: "team" } }],
    "current-context": "ctx",
  });
}

async function clientFor(cp: ControlPlane, dir: string, user: Record<string, unknown>) {
  const path = join(dir, `${uniqueName("kubeconfig")}.yaml`);
  await Deno.writeTextFile(path, kubeconfigYaml(cp, user));
  return closing(new KubeRestClient(await loadClusterConfig({ kubeconfig: path })));
}

/** Runs `body` with `Date` (the token file's refresh clock) frozen at 0 until it moves it. */
async function withFakeDate(body: (clock: ReturnType<typeof FakeTimers.install>) => Promise<void>) {
  const clock = FakeTimers.install({ toFake: ["Date"] });
  try {
    await body(clock);
  } finally {
    clock.uninstall();
  }
}

Deno.test("KubeRestClient authentication against a real API server", async (t) => {
  await using cp = await startControlPlane({ crds: true });
  const dir = await Deno.makeTempDir({ prefix: "kube-auth-" });
  using admin = closing(
    new KubeRestClient(await loadClusterConfig({ kubeconfig: cp.kubeconfigPath })),
  );

  await t.step("a client certificate from kubeconfig data authenticates as the admin", async () => {
    assert.equal(await whoAmI(admin), "admin");
  });

  await t.step("a client certificate from files relative to the kubeconfig", async () => {
    await Deno.copyFile(cp.adminCertFile, join(dir, "admin.crt"));
    await Deno.copyFile(cp.adminKeyFile, join(dir, "admin.key"));
    using rest = await clientFor(cp, dir, {
      "client-certificate": "admin.crt",
      "client-key": "admin.key",
    });
    assert.equal(await whoAmI(rest), "admin");
  });

  await t.step("a ServiceAccount token authenticates as the ServiceAccount", async () => {
    const namespace = uniqueName("tok");
    const token = await cp.serviceAccountToken(namespace, "robot");
    using rest = await clientFor(cp, dir, { token });
    assert.equal(await whoAmI(rest), `system:serviceaccount:${namespace}:robot`);
  });

  await t.step("a bad token gets UnauthorizedError", async () => {
    using rest = await clientFor(cp, dir, { token: "not-a-token" });
    await assert.rejects(whoAmI(rest), (error: unknown) => {
      assert.ok(error instanceof UnauthorizedError);
      assert.equal(error.code, 401);
      return true;
    });
  });

  await t.step("a token file is re-read once its refresh period has passed", async () => {
    const namespace = uniqueName("rot");
    const tokenPath = join(dir, uniqueName("token"));
    await Deno.writeTextFile(tokenPath, await cp.serviceAccountToken(namespace, "first"));
    const second = await cp.serviceAccountToken(namespace, "second");
    await withFakeDate(async (clock) => {
      using rest = await clientFor(cp, dir, { tokenFile: tokenPath });
      assert.equal(await whoAmI(rest), `system:serviceaccount:${namespace}:first`);
      await Deno.writeTextFile(tokenPath, second);
      clock.setSystemTime(59_000);
      assert.equal(await whoAmI(rest), `system:serviceaccount:${namespace}:first`, "still cached");
      clock.setSystemTime(60_000);
      assert.equal(await whoAmI(rest), `system:serviceaccount:${namespace}:second`);
    });
  });

  await t.step("a 401 makes the client re-read the token file and retry once", async () => {
    const namespace = uniqueName("retry");
    const tokenPath = join(dir, uniqueName("token"));
    await Deno.writeTextFile(tokenPath, "revoked-token");
    const fresh = await cp.serviceAccountToken(namespace, "fresh");
    await withFakeDate(async () => { // never refreshed by time
      using rest = await clientFor(cp, dir, { tokenFile: tokenPath });
      await assert.rejects(whoAmI(rest), UnauthorizedError, "the file still holds a bad token");
      await Deno.writeTextFile(tokenPath, fresh);
      assert.equal(await whoAmI(rest), `system:serviceaccount:${namespace}:fresh`);
    });
  });

  await t.step("an exec plugin's ExecCredential token is used and cached", async () => {
    const namespace = uniqueName("exec");
    const token = await cp.serviceAccountToken(namespace, "plugin-user");
    const log = join(dir, uniqueName("exec-log"));
    const script = join(dir, "plugin.sh");
    await Deno.writeTextFile(
      script,
      `#!/bin/sh
printf '%s\\n' "$KUBERNETES_EXEC_INFO" >> "${log}"
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"2099-01-01T00:00:00Z"}}' "$PLUGIN_TOKEN"
`,
      { mode: 0o755 },
    );
    using rest = await clientFor(cp, dir, {
      exec: {
        apiVersion: "client.authentication.k8s.io/v1",
        command: "./plugin.sh",
        env: [{ name: "PLUGIN_TOKEN", value: token }],
        provideClusterInfo: true,
        interactiveMode: "Never",
      },
    });
    assert.equal(await whoAmI(rest), `system:serviceaccount:${namespace}:plugin-user`);
    assert.equal(await whoAmI(rest), `system:serviceaccount:${namespace}:plugin-user`);
    const runs = (await Deno.readTextFile(log)).trim().split("\n");
    assert.equal(runs.length, 1, "the credential is cached until it expires");
    const info = JSON.parse(runs[0]!);
    assert.equal(info.kind, "ExecCredential");
    assert.equal(info.spec.interactive, false);
    assert.equal(info.spec.cluster.server, cp.url);
  });

  await t.step("an exec plugin may return a client certificate instead of a token", async () => {
    const credential = JSON.stringify({
      apiVersion: "client.authentication.k8s.io/v1beta1",
      kind: "ExecCredential",
      status: { clientCertificateData: cp.adminCertPem, clientKeyData: cp.adminKeyPem },
    });
    const script = join(dir, "cert-plugin.sh");
    await Deno.writeTextFile(script, `#!/bin/sh\ncat <<'EOF'\n${credential}\nEOF\n`, {
      mode: 0o755,
    });
    using rest = await clientFor(cp, dir, {
      exec: { apiVersion: "client.authentication.k8s.io/v1beta1", command: script },
    });
    assert.equal(await whoAmI(rest), "admin");
  });

  await t.step("in-cluster settings work with a mounted-style service account folder", async () => {
    const namespace = uniqueName("pod");
    const saDir = join(dir, uniqueName("sa"));
    await Deno.mkdir(saDir);
    await Deno.writeTextFile(join(saDir, "token"), await cp.serviceAccountToken(namespace, "op"));
    await Deno.writeTextFile(join(saDir, "ca.crt"), cp.caPem);
    const port = new URL(cp.url).port;
    const env: Record<string, string> = {
      KUBERNETES_SERVICE_HOST: "127.0.0.1",
      KUBERNETES_SERVICE_PORT: port,
    };
    const config: ClusterConfig = await resolveInClusterConfig({
      env: (name) => env[name],
      readFile: Deno.readTextFile,
      serviceAccountDir: saDir,
    });
    using rest = closing(new KubeRestClient(config));
    assert.equal(await whoAmI(rest), `system:serviceaccount:${namespace}:op`);
  });

  await t.step(
    "a ServiceAccount without RBAC gets ForbiddenError until a Role grants access",
    async () => {
      const namespace = uniqueName("rbac");
      const token = await cp.serviceAccountToken(namespace, "limited");
      using rest = await clientFor(cp, dir, { token });
      const limited = createKubeClients(rest);
      await assert.rejects(limited.hostPortClaims.listAll({ namespace }), (error: unknown) => {
        assert.ok(error instanceof ForbiddenError);
        assert.equal(error.code, 403);
        assert.match(error.message, /system:serviceaccount:.*:limited.*cannot list/);
        return true;
      });
      const rbac = `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}`;
      await admin.performRequest({
        method: "POST",
        path: `${rbac}/roles`,
        bodyJson: {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "Role",
          metadata: { name: "read-claims" },
          rules: [{
            apiGroups: ["hostport.rmb938.com"],
            resources: ["hostportclaims"],
            verbs: ["list"],
          }],
        },
      });
      await admin.performRequest({
        method: "POST",
        path: `${rbac}/rolebindings`,
        bodyJson: {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "RoleBinding",
          metadata: { name: "read-claims" },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "read-claims" },
          subjects: [{ kind: "ServiceAccount", name: "limited", namespace }],
        },
      });
      // The API server's authorizer learns of new RBAC objects through its own informers, so the
      // grant takes effect a moment later: retry Forbidden for a bounded time.
      const page = await retryWhileForbidden(() => limited.hostPortClaims.listAll({ namespace }));
      assert.deepEqual(page.items, []);
    },
  );

  await t.step("connection errors name their cause (TLS, DNS, refused) in one line", async () => {
    const other = await createCa(dir, "other-ca");
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const unusedPort = listener.addr.port;
    listener.close(); // nothing listens on it any more
    const user = { "client-certificate": cp.adminCertFile, "client-key": cp.adminKeyFile };
    const cases = [
      { server: cp.url, ca: other.certFile, cause: "TLS: invalid peer certificate: UnknownIssuer" },
      { server: `https://127.0.0.1:${unusedPort}`, ca: cp.caFile, cause: "connection refused" },
      { server: "https://nonexistent.invalid:6443", ca: cp.caFile, cause: "DNS: " },
    ];
    for (const { server, ca, cause } of cases) {
      const path = join(dir, `${uniqueName("kubeconfig")}.yaml`);
      await Deno.writeTextFile(
        path,
        stringify({
          apiVersion: "v1",
          kind: "Config",
          clusters: [{ name: "c", cluster: { server, "certificate-authority": ca } }],
          users: [{ name: "u", user }],
          contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
          "current-context": "ctx",
        }),
      );
      using rest = closing(new KubeRestClient(await loadClusterConfig({ kubeconfig: path })));
      const prefix = `Cannot reach the API server at "${server}" for GET /version: ${cause}`;
      await assert.rejects(rest.performRequest({ method: "GET", path: "/version" }), (error) => {
        assert.ok(error instanceof KubeConnectionError);
        assert.ok(error.message.startsWith(prefix), error.message);
        assert.ok(!error.message.includes("\n") && !error.message.includes("fetch failed"));
        return true;
      });
      // What an informer reports (and the controllers log) names the same cause.
      const reported: string[] = [];
      const informer = new Informer(new ResourceClient(rest, HOST_PORT_CLASS_RESOURCE), {
        onError: (error) => reported.push(error instanceof Error ? error.message : String(error)),
      });
      informer.start();
      const first = await eventually(
        "the informer to report its list failure",
        () => Promise.resolve(reported[0]),
      );
      await informer.stop();
      assert.ok(first.includes(`: ${cause}`) && !first.includes("fetch failed"), first);
    }
  });

  await Deno.remove(dir, { recursive: true });
});

/** Calls `call` until the API server's authorizer has learnt the RBAC grant, for at most 30 s. */
async function retryWhileForbidden<T>(call: () => Promise<T>): Promise<T> {
  return await eventually("the RBAC grant to take effect", call, 30_000);
}
