/**
 * Issue #9 items 5 and 6 against a real kube-apiserver: objects the operator cannot decode (a
 * HostPortClass stored without spec under the original's CRDs, a status int64 beyond 2^53, a
 * bad watch event) never stop the controllers or the webhooks' caches; they are reported (log,
 * Event, metric), and our webhooks let an admin repair or delete them.
 */
import assert from "node:assert/strict";
import { buildCrds } from "../lib/api/crd.ts";
import type { KubeClients } from "../lib/kube/mod.ts";
import { startWebhookServer } from "../webhook/server.ts";
import { startOwnLookups } from "./webhook_e2e_cluster.ts";
import {
  adminClients,
  boundClaim,
  claimObject,
  classObject,
  ensureNamespace,
  eventually,
  eventuallyGone,
  type RunningOperator,
  startOperator,
} from "./controller_harness.ts";
import { type ControlPlane, DEFAULT_CRD_DIR, startControlPlane } from "./controlplane/harness.ts";
import { API, assertOk, object, send } from "./crd_requests.ts";
import { StaticCertificateSource, webhookConfigurations } from "./webhook_fixtures.ts";

const NAMESPACE = "lenient";
const CLASSES = `${API}/hostportclasses`;
const FINALIZERS = ["hostport.rmb938.com"];
const GAUGE = "hostport_allocator_undecodable_objects";

/** The HostPortClass CRD without this project's validations (no rule requires spec), as the original's. */
function originalLikeClassCrd(): unknown {
  const strip = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(strip);
    if (typeof node !== "object" || node === null) return node;
    return Object.fromEntries(
      Object.entries(node).filter(([key]) =>
        key !== "x-kubernetes-validations" && key !== "minItems"
      )
        .map(([key, value]) => [key, strip(value)]),
    );
  };
  const crd = buildCrds().find((c) => c.spec.names.kind === "HostPortClass");
  assert.ok(crd);
  return strip(crd);
}

async function applyJson(cp: ControlPlane, value: unknown): Promise<void> {
  const applied = await cp.kubectl(["apply", "-f", "-"], { stdin: JSON.stringify(value) });
  assert.equal(applied.code, 0, applied.stderr);
}

/** Starts the controllers, failing (instead of hanging) when their caches never sync. */
async function startOperatorWithin(cp: ControlPlane, ms: number): Promise<RunningOperator> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`The operator did not sync within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([startOperator(cp), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until the gauge of undecodable HostPortClasses reads `value`. */
async function undecodableClasses(operator: RunningOperator, value: number): Promise<void> {
  await eventually(`${GAUGE}{kind=HostPortClass} to be ${value}`, () => {
    const gauge = operator.metrics.get(GAUGE, { kind: "HostPortClass" });
    return Promise.resolve(gauge === value ? true : undefined);
  });
}

async function portOf(kube: KubeClients, claim: string): Promise<number> {
  const { hostPort } = await boundClaim(kube, NAMESPACE, claim);
  return hostPort.status?.port ?? 0;
}

Deno.test("objects the operator cannot decode never stop it, and an admin can fix them", async (t) => {
  await using cp = await startControlPlane({ crds: false });
  await applyJson(cp, originalLikeClassCrd());
  for (const crd of buildCrds().filter((c) => c.spec.names.kind !== "HostPortClass")) {
    await applyJson(cp, crd);
  }
  const established = await cp.kubectl([
    "wait",
    "--for=condition=Established",
    "crd",
    "--all",
    "--timeout=60s",
  ]);
  assert.equal(established.code, 0, established.stderr);
  for (const name of ["nospec", "nospec-gone"]) {
    assertOk(
      await send(cp, "POST", CLASSES, object("HostPortClass", { name, finalizers: FINALIZERS })),
    );
  }
  await cp.installCrds(DEFAULT_CRD_DIR);
  using kube = await adminClients(cp);
  await ensureNamespace(kube, NAMESPACE);
  await kube.hostPortClasses.create(classObject("good", [[9000, 9009]]));
  let operator = await startOperatorWithin(cp, 30_000);
  try {
    await t.step("the controllers sync past classes without spec and report them", async () => {
      await kube.hostPortClaims.create(claimObject(NAMESPACE, "a", "good"));
      const port = await portOf(kube, "a");
      assert.ok(port >= 9000 && port <= 9009, `port ${port}`);
      await undecodableClasses(operator, 2);
      const events = operator.recorder.about("HostPortClass", "nospec");
      assert.equal(events.length, 1, JSON.stringify(operator.recorder.events));
      assert.equal(events[0]!.type, "Warning");
      assert.equal(events[0]!.reason, "UndecodableObject");
      assert.match(events[0]!.message, /^Cannot decode HostPortClass "nospec": spec: .*ignores/);
      assert.ok(events[0]!.subject.metadata.uid, "the Event names the object's uid");
      const warned = operator.logs.filter((line) => line.includes('"level":"warn"'))
        .map((line) => JSON.parse(line)).filter((line) => line.name === "nospec");
      assert.equal(warned[0]?.kind, "HostPortClass");
      assert.match(warned[0]?.error ?? "", /Cannot decode HostPortClass "nospec"/);
    });

    await t.step("a bad watch event corrected later does not pin the class watch", async () => {
      await kube.hostPortClasses.create(classObject("flip", [[9200, 9209]]));
      // Under the original's CRD (as in a cluster that never applied ours) spec may be removed.
      await applyJson(cp, originalLikeClassCrd());
      await eventually("the API server to serve the original's schema", async () => {
        const reply = await send(cp, "PATCH", `${CLASSES}/flip?dryRun=All`, { spec: null });
        return reply.status === 200 ? true : undefined;
      });
      // A schema change restarts the API server's watches: start the operator afresh on the
      // original's schema, so its watch of classes begins before the bad event and a resume
      // from before the bad event would replay it.
      await operator.stop();
      operator = await startOperatorWithin(cp, 30_000);
      assertOk(await send(cp, "PATCH", `${CLASSES}/flip`, { spec: null }));
      // The operator saw the bad event (it reports the object) before it is corrected.
      await eventually(
        "the operator to report class flip",
        () =>
          Promise.resolve(operator.recorder.about("HostPortClass", "flip").length > 0 || undefined),
      );
      await undecodableClasses(operator, 3);
      assertOk(
        await send(cp, "PATCH", `${CLASSES}/flip`, {
          spec: { pools: [{ start: 9200, end: 9209 }] },
        }),
      );
      await undecodableClasses(operator, 2);
      await kube.hostPortClasses.create(classObject("fresh", [[9300, 9309]]));
      await kube.hostPortClaims.create(claimObject(NAMESPACE, "f", "fresh"));
      const port = await portOf(kube, "f");
      assert.ok(port >= 9300 && port <= 9309, `port ${port}`);
      await cp.installCrds(DEFAULT_CRD_DIR);
    });

    const tls = await cp.webhookTls();
    await using lookups = startOwnLookups(kube);
    assert.equal(await lookups.synced, true, "the webhook's caches sync past classes without spec");
    const server = await startWebhookServer({
      certificates: new StaticCertificateSource(tls.certPem, tls.keyPem),
      lookups: lookups.lookups,
      hostname: "127.0.0.1",
      port: 0,
    });
    try {
      const configs = webhookConfigurations(server.port, tls.caBundle);
      await applyJson(cp, configs.mutating);
      await applyJson(cp, configs.validating);

      await t.step(
        "with our webhooks, an admin adds the missing spec and claims bind",
        async () => {
          const pools = [{ start: 9100, end: 9109 }];
          // Webhook configurations take a moment to reach the API server's admission chain.
          const overlapping = object("HostPortClass", { name: "probe" }, {
            pools: [{ start: 9000, end: 9100 }, { start: 9050, end: 9200 }],
          });
          await eventually("a refused dry-run to show the webhooks are live", async () => {
            const reply = await send(cp, "POST", `${CLASSES}?dryRun=All`, overlapping);
            return reply.status === 422 && reply.body.message?.includes("overlaps")
              ? true
              : undefined;
          });
          assertOk(await send(cp, "PATCH", `${CLASSES}/nospec`, { spec: { pools } }));
          await undecodableClasses(operator, 1);
          await kube.hostPortClaims.create(claimObject(NAMESPACE, "n", "nospec"));
          const port = await portOf(kube, "n");
          assert.ok(port >= 9100 && port <= 9109, `port ${port}`);
        },
      );

      await t.step(
        "with our webhooks, an admin removes the finalizer of a class without spec",
        async () => {
          const deleted = await cp.kubectl([
            "delete",
            "hostportclass",
            "nospec-gone",
            "--wait=false",
          ]);
          assert.equal(deleted.code, 0, deleted.stderr);
          assertOk(
            await send(cp, "PATCH", `${CLASSES}/nospec-gone`, { metadata: { finalizers: null } }),
          );
          await eventuallyGone("class nospec-gone", () => kube.hostPortClasses.get("nospec-gone"));
          await undecodableClasses(operator, 0);
        },
      );
    } finally {
      await cp.kubectl([
        "delete",
        "mutatingwebhookconfiguration,validatingwebhookconfiguration",
        "--all",
      ]);
      await server.shutdown();
    }

    await t.step(
      "a status int64 above 2^53 written through /status does not stop the operator",
      async () => {
        await operator.stop();
        const huge = 2 ** 60;
        const condition = {
          type: "Ready",
          status: "True",
          observedGeneration: huge,
          lastTransitionTime: "2026-01-01T00:00:00Z",
          reason: "Restored",
          message: "",
        };
        assertOk(
          await send(cp, "PATCH", `${CLASSES}/good/status`, {
            status: { observedGeneration: huge, conditions: [condition] },
          }),
        );
        operator = await startOperatorWithin(cp, 30_000);
        await kube.hostPortClaims.create(claimObject(NAMESPACE, "c", "good"));
        const port = await portOf(kube, "c");
        assert.ok(port >= 9000 && port <= 9009, `port ${port}`);
        assert.equal(operator.metrics.get(GAUGE, { kind: "HostPortClass" }), 0);
        assert.deepEqual(
          operator.recorder.events.filter((e) => e.reason === "UndecodableObject"),
          [],
        );
      },
    );
  } finally {
    await operator.stop();
  }
});
