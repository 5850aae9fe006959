/**
 * Two installs can never arbitrate separately (docs/architecture.md): the HostPort CRD's
 * annotation `hostport.rmb938.com/allocation-record` names the cluster's one allocation record.
 * Against a real kube-apiserver: of racing installs exactly one claims the anchor; of two
 * operator processes with different `--namespace`, only the first allocates while the second
 * stays not ready with a message naming the other record and the fix; and once the first is
 * uninstalled and the annotation removed as the message says, the second starts by itself and
 * never hands out a port a HostPort still holds. An annotation removed while its install still
 * runs goes back to that install: the other waits two re-check periods before it claims it.
 */
import assert from "node:assert/strict";
import {
  ConfigMapRecordStore,
  DEFAULT_RECORD_NAME,
  RECORD_ANCHOR_ANNOTATION,
  RECORD_ANCHOR_CRD,
  RecordAnchor,
  recordAnchorConflict,
} from "../lib/allocation/mod.ts";
import { KubeRestClient, loadClusterConfig } from "../lib/kube/mod.ts";
import {
  adminClients,
  boundClaim,
  claimObject,
  classObject,
  ensureNamespace,
  eventually,
} from "./controller_harness.ts";
import { type ControlPlane, startControlPlane } from "./controlplane/harness.ts";
import { OperatorProcess, webhookCertDir } from "./demo/operator_process.ts";
import { metricValue } from "./process_operators.ts";
import { closing } from "./core_clients.ts";

const TENANT = "team";
const CLASS = "two";
const FIRST = "install-a";
const SECOND = "install-b";
const ALLOCATIONS = `hostport_allocations_total{class="${CLASS}"}`;

function recordOf(namespace: string): string {
  return `${namespace}/${DEFAULT_RECORD_NAME}`;
}

async function anchorOf(cp: ControlPlane): Promise<string> {
  const result = await cp.kubectl([
    "get",
    "crd",
    RECORD_ANCHOR_CRD,
    "-o",
    `jsonpath={.metadata.annotations.${RECORD_ANCHOR_ANNOTATION.replaceAll(".", "\\.")}}`,
  ]);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim();
}

/** The command the readiness message gives an admin whose other install is gone. */
async function removeAnchor(cp: ControlPlane): Promise<void> {
  const result = await cp.kubectl([
    "annotate",
    "crd",
    RECORD_ANCHOR_CRD,
    `${RECORD_ANCHOR_ANNOTATION}-`,
  ]);
  assert.equal(result.code, 0, result.stderr);
}

async function readyz(operator: OperatorProcess): Promise<{ status: number; body: string }> {
  const response = await fetch(`${operator.healthUrl}/readyz?verbose`);
  return { status: response.status, body: await response.text() };
}

Deno.test("two installs never arbitrate separately: one allocation record per cluster", async (t) => {
  await using cp = await startControlPlane();
  using kube = await adminClients(cp);
  for (const namespace of [FIRST, SECOND, TENANT]) await ensureNamespace(kube, namespace);

  await t.step("of installs racing for an absent anchor, exactly one claims it", async () => {
    using rest = closing(
      new KubeRestClient(await loadClusterConfig({ kubeconfig: cp.kubeconfigPath })),
    );
    const records = ["race-1", "race-2", "race-3", "race-4", "race-5"].map((namespace) => ({
      namespace,
      name: DEFAULT_RECORD_NAME,
    }));
    const verdicts = await Promise.all(
      records.map((record) => new RecordAnchor(rest, record).check()),
    );
    const winners = records.filter((_, i) => verdicts[i] === true);
    assert.equal(winners.length, 1, JSON.stringify(verdicts));
    const winner = recordOf(winners[0]!.namespace);
    assert.equal(await anchorOf(cp), winner);
    for (const [i, verdict] of verdicts.entries()) {
      if (verdict === true) continue;
      assert.deepEqual(verdict, {
        reason: recordAnchorConflict(recordOf(records[i]!.namespace), winner),
        holder: winner,
      });
    }
    await removeAnchor(cp);
  });

  const certDir = await webhookCertDir(await cp.webhookTls(), cp.runDir);
  const start = (namespace: string) =>
    OperatorProcess.start({
      kubeconfig: cp.kubeconfigPath,
      namespace,
      certDir,
      logPath: `${cp.runDir}/${namespace}.log`,
      args: ["--leader-elect=false", "--graceful-shutdown-timeout=10s"],
    });
  await using first = start(FIRST);
  await first.waitReady();
  await using second = start(SECOND);
  await kube.hostPortClasses.create(classObject(CLASS, [[24000, 24010]]));

  await t.step("the second install does not allocate and says why in /readyz", async () => {
    const message = recordAnchorConflict(recordOf(SECOND), recordOf(FIRST));
    const ready = await eventually("the second install to report the other record", async () => {
      const answer = await readyz(second);
      return answer.body.includes(message) ? answer : undefined;
    }, 60_000);
    assert.equal(ready.status, 503);
    assert.equal(await anchorOf(cp), recordOf(FIRST));
    assert.ok(ready.body.includes(`[-]allocation-record failed: ${message}`), ready.body);
    assert.ok((await second.logs()).includes("Not allocating"));

    for (const name of ["a", "b", "c", "d", "e", "f"]) {
      await kube.hostPortClaims.create(claimObject(TENANT, name, CLASS));
    }
    const ports = [];
    for (const name of ["a", "b", "c", "d", "e", "f"]) {
      ports.push((await boundClaim(kube, TENANT, name)).claim.status?.port);
    }
    assert.equal(new Set(ports).size, 6, `distinct ports: ${ports.join(", ")}`);
    assert.equal(await metricValue(first, ALLOCATIONS), 6);
    assert.equal(await metricValue(second, ALLOCATIONS), undefined, "the second allocated none");
    using rest = closing(
      new KubeRestClient(await loadClusterConfig({ kubeconfig: cp.kubeconfigPath })),
    );
    const record = await new ConfigMapRecordStore(rest, { namespace: SECOND }).read();
    assert.equal(record, undefined, "the second install never created its own record");
    assert.equal((await readyz(second)).status, 503, "still not ready");
  });

  await t.step("an anchor removed while the first still runs goes back to the first", async () => {
    await removeAnchor(cp);
    await eventually(
      "the first install to claim the anchor back",
      async () => await anchorOf(cp) === recordOf(FIRST) ? true : undefined,
      30_000,
    );
    const message = recordAnchorConflict(recordOf(SECOND), recordOf(FIRST));
    await eventually("the second install to name the first's record again", async () => {
      const answer = await readyz(second);
      return answer.status === 503 && answer.body.includes(message) ? true : undefined;
    }, 30_000);
    assert.equal(await metricValue(second, ALLOCATIONS), undefined, "the second allocated none");
    await kube.hostPortClaims.create(claimObject(TENANT, "f2", CLASS));
    assert.ok((await boundClaim(kube, TENANT, "f2")).claim.status?.port);
    assert.equal(await metricValue(first, ALLOCATIONS), 7, "the first still allocates");
  });

  await t.step(
    "once the first is uninstalled and its anchor removed, the second starts by itself",
    async () => {
      assert.equal((await first.stop()).code, 0);
      await removeAnchor(cp);
      await second.waitReady(60_000);
      assert.equal(await anchorOf(cp), recordOf(SECOND));
      for (const name of ["g", "h", "i", "j"]) {
        await kube.hostPortClaims.create(claimObject(TENANT, name, CLASS));
      }
      const ports = [];
      for (const name of ["a", "b", "c", "d", "e", "f", "f2", "g", "h", "i", "j"]) {
        ports.push((await boundClaim(kube, TENANT, name)).claim.status?.port);
      }
      // Eleven claims on exactly eleven ports: the second install skipped every port the first's
      // HostPorts hold.
      assert.equal(new Set(ports).size, 11, `distinct ports: ${ports.join(", ")}`);
      assert.equal(await metricValue(second, ALLOCATIONS), 4);
    },
  );
});
