/**
 * The test control plane against itself: a real kube-apiserver + etcd, RBAC, tokens, webhooks,
 * restarts, compaction, and teardown that leaves nothing behind.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { z } from "zod";
import { type ControlPlane, startControlPlane } from "./controlplane/harness.ts";
import { findBinaries } from "./controlplane/binaries.ts";
import { ControlPlaneError } from "./controlplane/errors.ts";
import { processesMentioning } from "./controlplane/process.ts";
import { serveRejectingWebhook } from "./controlplane/test_webhook.ts";
import { eventually } from "./controller_harness.ts";

const WIDGET_CRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.test.example.com}
spec:
  group: test.example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, properties: {size: {type: integer}}}
`;

const WHOAMI = z.object({ status: z.object({ userInfo: z.object({ username: z.string() }) }) });
const FIXTURE_LINE = z.object({ runDir: z.string().min(1) });

async function kubectlOk(cp: ControlPlane, args: string[], stdin?: string): Promise<string> {
  const result = await cp.kubectl(args, stdin === undefined ? {} : { stdin });
  assert.equal(result.code, 0, `kubectl ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

async function checkRbac(cp: ControlPlane, t: Deno.TestContext): Promise<void> {
  const token = await cp.serviceAccountToken("rbac-check", "nobody");
  await t.step("a TokenRequest token authenticates as its ServiceAccount", async () => {
    const result = await cp.kubectl(["auth", "whoami", "-o", "json"], { token });
    assert.equal(result.code, 0, result.stderr);
    const username = WHOAMI.parse(JSON.parse(result.stdout)).status.userInfo.username;
    assert.equal(username, "system:serviceaccount:rbac-check:nobody");
  });
  await t.step("a ServiceAccount without bindings is forbidden to list pods", async () => {
    const result = await cp.kubectl(["get", "pods", "-n", "rbac-check"], { token });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /Forbidden/);
    assert.match(result.stderr, /cannot list resource "pods"/);
    await kubectlOk(cp, ["get", "pods", "-n", "rbac-check"]); // the admin may
  });
  await t.step("a RoleBinding lets the same ServiceAccount list pods", async () => {
    // Not the built-in "view": aggregated ClusterRoles stay empty without a controller-manager.
    await kubectlOk(cp, [
      "create",
      "role",
      "pod-reader",
      "--verb=list",
      "--resource=pods",
      "-n",
      "rbac-check",
    ]);
    await kubectlOk(cp, [
      ...["create", "rolebinding", "nobody-reads-pods", "-n", "rbac-check"],
      ...["--role=pod-reader", "--serviceaccount=rbac-check:nobody"],
    ]);
    await eventually(
      "the RoleBinding to let the ServiceAccount list pods",
      async () =>
        (await cp.kubectl(["get", "pods", "-n", "rbac-check"], { token })).code === 0 || undefined,
      30_000,
    );
  });
}

async function checkWebhook(cp: ControlPlane): Promise<void> {
  await using webhook = await serveRejectingWebhook(
    await cp.webhookTls(),
    "rejected by the test webhook",
  );
  await kubectlOk(cp, ["create", "namespace", "webhook-check"]);
  await kubectlOk(cp, ["label", "namespace", "webhook-check", "webhook-check=on"]);
  await kubectlOk(
    cp,
    ["apply", "-f", "-"],
    JSON.stringify(webhook.configuration("webhook-check=on")),
  );
  await eventually("the API server to consult the webhook", async () => {
    const result = await cp.kubectl(["create", "configmap", "c", "-n", "webhook-check"]);
    return result.code !== 0 && result.stderr.includes("rejected by the test webhook") || undefined;
  }, 30_000);
  assert.ok(webhook.reviews() > 0);
  await kubectlOk(cp, ["delete", "validatingwebhookconfiguration", webhook.name]);
}

async function checkCompaction(cp: ControlPlane): Promise<void> {
  const created = JSON.parse(
    await kubectlOk(cp, ["create", "configmap", "compact-me", "-o", "json"]),
  );
  const oldVersion = z.object({ metadata: z.object({ resourceVersion: z.string() }) })
    .parse(created).metadata.resourceVersion;
  await kubectlOk(cp, ["label", "configmap", "compact-me", "touched=yes"]);
  const revision = await cp.compactEtcd();
  assert.ok(revision > Number(oldVersion));
  const response = await cp.fetch(
    `/api/v1/namespaces/default/configmaps?resourceVersion=${oldVersion}&resourceVersionMatch=Exact`,
  );
  assert.equal(response.status, 410, await response.text());
}

async function checkRestart(cp: ControlPlane): Promise<void> {
  await kubectlOk(cp, ["create", "configmap", "survivor", "--from-literal=kept=yes"]);
  const oldPid = cp.pids.kubeApiServer;
  await cp.stopApiServer();
  assert.equal(cp.pids.kubeApiServer, undefined);
  assert.notEqual((await cp.kubectl(["get", "ns", "default", "--request-timeout=5s"])).code, 0);
  await cp.startApiServer();
  assert.notEqual(cp.pids.kubeApiServer, oldPid);
  const kept = await kubectlOk(cp, ["get", "configmap", "survivor", "-o", "jsonpath={.data.kept}"]);
  assert.equal(kept, "yes");
}

Deno.test("startControlPlane() serves a real kube-apiserver that stop() tears down completely", async (t) => {
  const crdDir = await Deno.makeTempDir({ prefix: "controlplane-test-crds-" });
  await Deno.writeTextFile(join(crdDir, "widgets.yaml"), WIDGET_CRD);
  const cp = await startControlPlane({ crdDir, watchCache: false });
  try {
    await t.step("kubectl get ns default succeeds as the admin", async () => {
      assert.match(await kubectlOk(cp, ["get", "ns", "default"]), /^default\s+Active/m);
    });
    await t.step("the CRDs of crdDir are established and served", async () => {
      const widget = {
        apiVersion: "test.example.com/v1",
        kind: "Widget",
        metadata: { name: "w" },
        spec: { size: 3 },
      };
      await kubectlOk(cp, ["apply", "-f", "-"], JSON.stringify(widget));
      assert.equal(await kubectlOk(cp, ["get", "widget", "w", "-o", "jsonpath={.spec.size}"]), "3");
    });
    await checkRbac(cp, t);
    await t.step(
      "webhookTls() lets the apiserver call a webhook on 127.0.0.1",
      () => checkWebhook(cp),
    );
    await t.step(
      "compactEtcd() expires older resourceVersions (410 Gone)",
      () => checkCompaction(cp),
    );
    await t.step(
      "stopApiServer() and startApiServer() keep the stored objects",
      () => checkRestart(cp),
    );
    await t.step("stop() leaves no process and no run dir behind", async () => {
      const { etcd, kubeApiServer } = cp.pids;
      await cp.stop();
      assert.deepEqual(processesMentioning(cp.runDir), []);
      for (const pid of [etcd, kubeApiServer]) {
        assert.ok(!isRunning(pid), `process ${pid} still runs`);
      }
      await assert.rejects(Deno.stat(cp.runDir), Deno.errors.NotFound);
    });
  } finally {
    await cp.stop();
    await Deno.remove(crdDir, { recursive: true });
  }
});

function isRunning(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    return !/^\d+ \(.*\) Z/.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    text += chunk;
    if (text.includes("\n")) break;
  }
  return text.split("\n")[0] ?? "";
}

Deno.test("startControlPlane() processes die when their owner is killed with SIGKILL", async () => {
  const { binDir } = await findBinaries();
  const fixture = new URL("./controlplane/sigkill_fixture.ts", import.meta.url).pathname;
  const owner = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", fixture],
    env: { KUBEBUILDER_ASSETS: binDir },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let runDir: string | undefined;
  try {
    runDir = FIXTURE_LINE.parse(JSON.parse(await firstLine(owner.stdout))).runDir;
    assert.ok(
      processesMentioning(runDir).length >= 2,
      "the fixture's control plane is not running",
    );
    owner.kill("SIGKILL");
    await owner.status;
    const dir = runDir;
    await eventually(
      "the orphaned control plane's processes to exit",
      () => processesMentioning(dir).length === 0 || undefined,
      30_000,
    );
  } finally {
    try {
      owner.kill("SIGKILL");
    } catch {
      // already dead
    }
    await owner.status;
    if (runDir !== undefined) await Deno.remove(runDir, { recursive: true });
  }
});

Deno.test("startControlPlane() reports a failed start with the log tail and leaves no process", async () => {
  const error = await startControlPlane({ crds: false, apiServerArgs: ["--no-such-flag"] }).then(
    (cp) => cp.stop().then(() => assert.fail("the apiserver accepted an unknown flag")),
    (error: unknown) => error,
  );
  assert.ok(error instanceof ControlPlaneError, String(error));
  assert.match(error.message, /kube-apiserver exited with code \d+/);
  assert.match(error.message, /unknown flag: --no-such-flag/);
  const runDir = /last lines of (\S+)\/kube-apiserver\.log/.exec(error.message)?.[1];
  assert.ok(runDir !== undefined, error.message);
  try {
    assert.deepEqual(processesMentioning(runDir), []);
  } finally {
    await Deno.remove(runDir, { recursive: true });
  }
});
