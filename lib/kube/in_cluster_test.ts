import assert from "node:assert/strict";
import { InClusterConfigError, isInCluster, resolveInClusterConfig } from "./in_cluster.ts";

const SA = "/var/run/secrets/kubernetes.io/serviceaccount";

function env(vars: Record<string, string>) {
  return (name: string) => vars[name];
}

function files(map: Record<string, string>) {
  return (path: string) =>
    map[path] === undefined
      ? Promise.reject(new Error(`No such file: ${path}`))
      : Promise.resolve(map[path]!);
}

const MOUNT = { [`${SA}/token`]: "tok\n", [`${SA}/ca.crt`]: "CA", [`${SA}/namespace`]: "ops\n" };

Deno.test("resolveInClusterConfig() uses the service host, the SA token file, CA and namespace", async () => {
  const config = await resolveInClusterConfig({
    env: env({ KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" }),
    readFile: files(MOUNT),
  });
  assert.deepEqual(config, {
    server: "https://10.0.0.1:443",
    caPem: "CA",
    auth: { type: "tokenFile", path: `${SA}/token` },
    namespace: "ops",
    source: "in-cluster",
  });
});

Deno.test("resolveInClusterConfig() brackets an IPv6 host and defaults the namespace", async () => {
  const config = await resolveInClusterConfig({
    env: env({ KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "6443" }),
    readFile: files({ "/sa/token": "t", "/sa/ca.crt": "CA" }),
    serviceAccountDir: "/sa",
  });
  assert.equal(config.server, "https://[fd00::1]:6443");
  assert.equal(config.namespace, "default");
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
