/**
 * Claim quotas against the real kube-apiserver, kube-controller-manager (its quota controller)
 * and our webhook and controllers: the per-class key `<class>.hostportclass.hostport.rmb938.com/
 * hostportclaims` of a standard ResourceQuota, enforced by the webhook and held by the
 * controller, and the namespace count `count/hostportclaims.hostport.rmb938.com` of the API
 * server's own quota admission.
 */
import assert from "node:assert/strict";
import type { ResourceQuota } from "kubernetes-types/core/v1.d.ts";
import type { HostPortClaim } from "../lib/api/mod.ts";
import type { KubeClients } from "../lib/kube/mod.ts";
import { KubeEventRecorder } from "../lib/ops/event_recorder.ts";
import { PrometheusRegistry } from "../lib/ops/metrics_registry.ts";
import { CLAIM_COUNT_RESOURCE, classQuotaResource } from "../lib/quota/mod.ts";
import type { ClaimQuotaAdmission } from "../webhook/lookups.ts";
import {
  boundClaim,
  claimObject,
  classObject,
  eventually,
  eventuallyGone,
  type RunningOperator,
  startOperator,
} from "./controller_harness.ts";
import { DEFAULT_CRD_DIR } from "./controlplane/options.ts";
import { startControlPlane } from "./controlplane/harness.ts";
import { type E2eCluster, startE2eCluster, startOwnLookups } from "./webhook_e2e_cluster.ts";
import { namespaces } from "./core_clients.ts";

const GOLD = classQuotaResource("gold");
const SILVER = classQuotaResource("silver");
/** Probe classes: each quota version limits a new one to 0, which the webhook then refuses. */
let probes = 0;

/** The rig: control plane with kcm, our webhook (its quota check can be switched off), operator. */
interface Rig extends AsyncDisposable {
  cluster: E2eCluster;
  kube: KubeClients;
  operator: RunningOperator;
  /** Turns the webhook's quota check off, as if another replica admitted without seeing usage. */
  bypassWebhookQuota(bypass: boolean): void;
}

async function startRig(): Promise<Rig> {
  let bypass = false;
  let recorder: KubeEventRecorder | undefined;
  const cluster = await startE2eCluster({
    controlPlane: { controllers: true },
    startLookups: (kube) => {
      recorder = new KubeEventRecorder(kube.events, {
        instance: "webhook",
        metrics: new PrometheusRegistry(),
      });
      const running = startOwnLookups(kube, { recorder });
      const inner = running.lookups.claimQuota!;
      const claimQuota: ClaimQuotaAdmission = {
        admit: (claim, options) => bypass ? undefined : inner.admit(claim, options),
      };
      return { ...running, lookups: { ...running.lookups, claimQuota } };
    },
  });
  try {
    const operator = await startOperator(cluster.cp);
    return {
      cluster,
      kube: cluster.kube,
      operator,
      bypassWebhookQuota: (value) => void (bypass = value),
      [Symbol.asyncDispose]: async () => {
        try {
          await operator.stop();
          await recorder?.close(5_000);
        } finally {
          await cluster[Symbol.asyncDispose]();
        }
      },
    };
  } catch (error) {
    await recorder?.close(5_000);
    await cluster[Symbol.asyncDispose]();
    throw error;
  }
}

function quota(namespace: string, name: string, hard: Record<string, string>): ResourceQuota {
  return { apiVersion: "v1", kind: "ResourceQuota", metadata: { name, namespace }, spec: { hard } };
}

/**
 * Applies a quota and waits until the webhook's cache has this version: it also limits a new
 * probe class to 0, and a server-side dry run of a claim of that class is refused.
 */
async function applyQuota(rig: Rig, namespace: string, name: string, hard: Record<string, string>) {
  const probe = `probe-${++probes}`;
  await rig.cluster.apply(quota(namespace, name, { ...hard, [classQuotaResource(probe)]: "0" }));
  await eventually(`the webhook to see quota ${namespace}/${name} (${probe})`, async () => {
    const result = await rig.cluster.kubectl(
      ["create", "--dry-run=server", "-f", "-"],
      JSON.stringify(claimObject(namespace, "probe", probe)),
    );
    return /exceeded quota/.test(result.stderr) || undefined;
  });
}

async function createNamespace(kube: KubeClients, name: string): Promise<void> {
  await namespaces(kube).create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
}

/** Creates claims at once; returns the names admitted and the refusal messages. */
async function createAtOnce(kube: KubeClients, namespace: string, names: string[], cls: string) {
  const results = await Promise.allSettled(
    names.map((name) => kube.hostPortClaims.create(claimObject(namespace, name, cls))),
  );
  const admitted: string[] = [];
  const refused: string[] = [];
  results.forEach((result, i) => {
    if (result.status === "fulfilled") admitted.push(names[i]!);
    else refused.push(String(result.reason?.message ?? result.reason));
  });
  return { admitted, refused };
}

async function claimsOf(kube: KubeClients, namespace: string): Promise<HostPortClaim[]> {
  return (await kube.hostPortClaims.listAll({ namespace })).items;
}

/** The reason of a claim's Bound condition. */
function boundReason(claim: HostPortClaim): string | undefined {
  return claim.status?.conditions?.find((c) => c.type === "Bound")?.reason;
}

/** Ports held by HostPorts whose claim is in `namespace`. */
async function heldPorts(kube: KubeClients, namespace: string): Promise<Map<string, number>> {
  const held = new Map<string, number>();
  for (const hostPort of (await kube.hostPorts.listAll()).items) {
    const port = hostPort.status?.port ?? 0;
    if (port > 0 && hostPort.spec.claimRef?.namespace === namespace) {
      held.set(hostPort.spec.claimRef.name ?? "", port);
    }
  }
  return held;
}

/** Waits until exactly `count` HostPorts of the namespace hold ports (deleted claims' go after them). */
async function settledPorts(
  kube: KubeClients,
  namespace: string,
  count: number,
): Promise<Map<string, number>> {
  return await eventually(`${count} ports held in ${namespace}`, async () => {
    const held = await heldPorts(kube, namespace);
    return held.size === count ? held : undefined;
  });
}

const names = (prefix: string, count: number, from = 0) =>
  Array.from({ length: count }, (_, i) => `${prefix}-${String(from + i).padStart(2, "0")}`);

function exceeded(name: string, resource: string, used: number, limit: number): RegExp {
  const key = resource.replaceAll(".", "\\.").replaceAll("/", "\\/");
  return new RegExp(
    `exceeded quota: ${name}, requested: ${key}=1, used: ${key}=${used}, limited: ${key}=${limit}`,
  );
}

Deno.test("a per-class quota: 50 claims at once against 10, deletions, a lowered limit, and the controller's backstop", async () => {
  await using rig = await startRig();
  const { kube, cluster, operator } = rig;
  await kube.hostPortClasses.create(classObject("gold", [[30400, 30499]]));
  await createNamespace(kube, "tenant");
  await applyQuota(rig, "tenant", "gold-claims", { [GOLD]: "10" });

  // 50 at once: exactly 10 admitted, the rest refused with the quota's name, usage and limit.
  const burst = await createAtOnce(kube, "tenant", names("c", 50), "gold");
  assert.equal(burst.admitted.length, 10, burst.refused[0]);
  assert.equal(burst.refused.length, 40);
  for (const message of burst.refused) assert.match(message, exceeded("gold-claims", GOLD, 10, 10));
  // Each refusal is a Warning Event on the quota, naming the claim (kubectl describe quota shows
  // them; the API server's own quota check records none), up to the per-object spam filter's
  // burst of 25, as client-go's recorder.
  await eventually("25 QuotaExceeded Events on the quota", async () => {
    const events = (await kube.events.listAll({ namespace: "tenant" })).items.filter((event) =>
      event.regarding?.kind === "ResourceQuota" && event.regarding.name === "gold-claims" &&
      event.reason === "QuotaExceeded"
    );
    return events.length === 25 ? events : undefined;
  }).then((events) => {
    for (const event of events) {
      assert.equal(event.type, "Warning");
      assert.match(event.note ?? "", /^Refused claim tenant\/c-\d+: exceeded quota: gold-claims, /);
    }
  });
  for (const name of burst.admitted) await boundClaim(kube, "tenant", name);
  const ports = await heldPorts(kube, "tenant");
  assert.equal(ports.size, 10);
  assert.equal(new Set(ports.values()).size, 10);

  // Usage is visible: kubectl describe quota, and the operator's metrics.
  await eventually("describe quota to show gold used 10 of 10", async () => {
    const { stdout } = await cluster.kubectl(["describe", "quota", "gold-claims", "-n", "tenant"]);
    return new RegExp(`${GOLD.replaceAll(".", "\\.")}\\s+10\\s+10`).test(stdout) || undefined;
  });
  const series = "namespace=tenant,quota=gold-claims";
  await eventually(
    "the quota metrics",
    () =>
      operator.metrics.values.get(`hostport_quota_used_claims{class=gold,${series}}`) === 10 &&
        operator.metrics.values.get(`hostport_quota_hard_claims{class=gold,${series}}`) === 10 ||
      undefined,
  );

  // 3 deleted -> 3 more bind (and the next is refused again).
  const [first, ...kept] = burst.admitted.toSorted();
  for (const name of [first!, ...kept.slice(0, 2)]) {
    await kube.hostPortClaims.delete(name, { namespace: "tenant" });
  }
  for (const name of [first!, ...kept.slice(0, 2)]) {
    await eventuallyGone(
      `claim ${name}`,
      () => kube.hostPortClaims.get(name, { namespace: "tenant" }),
    );
  }
  // The webhook's cache may show a deleted claim a moment longer: retry until admitted.
  const again = names("d", 3);
  for (const name of again) {
    await eventually(`claim ${name} admitted`, async () => {
      await kube.hostPortClaims.create(claimObject("tenant", name, "gold"));
      return true;
    });
  }
  const full = await createAtOnce(kube, "tenant", ["full"], "gold");
  assert.match(full.refused[0] ?? "", exceeded("gold-claims", GOLD, 10, 10));
  for (const name of again) await boundClaim(kube, "tenant", name);
  const before = await settledPorts(kube, "tenant", 10);

  // A limit lowered below usage: nothing loses its port; new claims are refused.
  await applyQuota(rig, "tenant", "gold-claims", { [GOLD]: "6" });
  const lowered = await createAtOnce(kube, "tenant", ["late"], "gold");
  assert.match(lowered.refused[0] ?? "", exceeded("gold-claims", GOLD, 10, 6));

  // Two replicas' webhooks racing (here: the check switched off): the controller holds every
  // claim over the limit Pending with QuotaExceeded and an Event; none gets a port.
  rig.bypassWebhookQuota(true);
  const raced = await createAtOnce(kube, "tenant", names("r", 3), "gold");
  rig.bypassWebhookQuota(false);
  assert.equal(raced.admitted.length, 3, raced.refused[0]);
  for (const name of raced.admitted) {
    const claim = await eventually(`claim ${name} held back`, async () => {
      const claim = await kube.hostPortClaims.get(name, { namespace: "tenant" });
      return boundReason(claim) === "QuotaExceeded" ? claim : undefined;
    });
    assert.equal(claim.status?.phase, "Pending");
    assert.equal(claim.spec.hostPortName ?? "", "", "no HostPort is made for it");
    const message = claim.status?.conditions?.find((c) => c.type === "Bound")?.message ?? "";
    assert.match(message, /exceeded quota: gold-claims, requested: .*, limited: .*=6/);
  }
  await eventually(
    "QuotaExceeded Events",
    () =>
      operator.recorder.events.filter((e) => e.reason === "QuotaExceeded").length >= 3 || undefined,
  );
  assert.deepEqual(await heldPorts(kube, "tenant"), before, "nothing lost or gained a port");

  // Usage drops to 5 (5 deleted): the held claims stay held until usage is under 6, then the
  // oldest one binds by itself; the other two keep waiting.
  const holders = [...before.keys()].toSorted();
  for (const name of holders.slice(0, 5)) {
    await kube.hostPortClaims.delete(name, { namespace: "tenant" });
  }
  const oldest = raced.admitted.toSorted()[0]!;
  await boundClaim(kube, "tenant", oldest);
  for (const name of holders.slice(0, 5)) {
    await eventuallyGone(
      `claim ${name}`,
      () => kube.hostPortClaims.get(name, { namespace: "tenant" }),
    );
  }
  const after = await settledPorts(kube, "tenant", 6);
  for (const name of raced.admitted.toSorted().slice(1)) {
    const claim = await kube.hostPortClaims.get(name, { namespace: "tenant" });
    assert.equal(boundReason(claim), "QuotaExceeded", name);
  }
  for (const name of holders.slice(5)) assert.equal(after.get(name), before.get(name), name);

  // Raising the limit lets the waiting claims go at once.
  await applyQuota(rig, "tenant", "gold-claims", { [GOLD]: "8" });
  for (const name of raced.admitted) await boundClaim(kube, "tenant", name);
  await settledPorts(kube, "tenant", 8);
});

Deno.test("quotas on two classes in one namespace, the namespace count, and another namespace unaffected", async () => {
  await using rig = await startRig();
  const { kube, cluster } = rig;
  await kube.hostPortClasses.create(classObject("gold", [[30500, 30549]]));
  await kube.hostPortClasses.create(classObject("silver", [[30550, 30599]]));
  await createNamespace(kube, "two");
  await createNamespace(kube, "other");
  await applyQuota(rig, "two", "per-class", { [GOLD]: "2", [SILVER]: "3" });
  await applyQuota(rig, "other", "per-class", { [GOLD]: "10" });
  await cluster.apply(quota("two", "all", { [CLAIM_COUNT_RESOURCE]: "6" }));
  await eventually("the quota controller to count claims", async () => {
    const used = await cluster.get("resourcequota all", "{.status.used}", "two");
    return used !== "" && JSON.parse(used)[CLAIM_COUNT_RESOURCE] === "0" || undefined;
  });

  const gold = await createAtOnce(kube, "two", names("g", 4), "gold");
  const silver = await createAtOnce(kube, "two", names("s", 5), "silver");
  assert.equal(gold.admitted.length, 2, gold.refused[0]);
  assert.equal(silver.admitted.length, 3, silver.refused[0]);
  for (const message of gold.refused) assert.match(message, exceeded("per-class", GOLD, 2, 2));
  for (const message of silver.refused) assert.match(message, exceeded("per-class", SILVER, 3, 3));

  // A third class has no per-class limit: only the namespace count (API server) stops it.
  await kube.hostPortClasses.create(classObject("bronze", [[30600, 30609]]));
  const bronze = await createAtOnce(kube, "two", names("b", 3), "bronze");
  assert.equal(bronze.admitted.length, 1, bronze.refused[0]);
  assert.match(
    bronze.refused[0] ?? "",
    /exceeded quota: all, requested: count\/hostportclaims\.hostport\.rmb938\.com=1, used: count\/hostportclaims\.hostport\.rmb938\.com=6, limited: count\/hostportclaims\.hostport\.rmb938\.com=6/,
  );
  for (const name of [...gold.admitted, ...silver.admitted, ...bronze.admitted]) {
    await boundClaim(kube, "two", name);
  }
  await eventually("describe quota to show both classes", async () => {
    const { stdout } = await cluster.kubectl(["describe", "quota", "per-class", "-n", "two"]);
    const row = (key: string, n: number) =>
      new RegExp(`${key.replaceAll(".", "\\.")}\\s+${n}\\s+${n}`);
    return row(GOLD, 2).test(stdout) && row(SILVER, 3).test(stdout) || undefined;
  });

  // The other namespace's quota of the same name and class is its own: 5 gold claims bind there.
  const free = await createAtOnce(kube, "other", names("o", 5), "gold");
  assert.equal(free.admitted.length, 5, free.refused[0]);
  for (const name of free.admitted) await boundClaim(kube, "other", name);
  assert.equal((await claimsOf(kube, "two")).length, 6);

  // Two replicas racing at the limit (here: the webhook's check off): gold in "other" is full
  // (5 of 5); two more claims are admitted but held back, and the ports held stay at 5. When a
  // claim goes, the older waiting one takes its place; the other keeps waiting.
  await applyQuota(rig, "other", "per-class", { [GOLD]: "5" });
  rig.bypassWebhookQuota(true);
  const raced = await createAtOnce(kube, "other", ["x-00", "x-01"], "gold");
  rig.bypassWebhookQuota(false);
  assert.deepEqual(raced.admitted, ["x-00", "x-01"], raced.refused[0]);
  for (const name of raced.admitted) {
    await eventually(
      `claim ${name} held back`,
      async () =>
        boundReason(await kube.hostPortClaims.get(name, { namespace: "other" })) ===
          "QuotaExceeded" ||
        undefined,
    );
  }
  await settledPorts(kube, "other", 5);
  await kube.hostPortClaims.delete("o-00", { namespace: "other" });
  await boundClaim(kube, "other", "x-00");
  await settledPorts(kube, "other", 5);
  const waiting = await kube.hostPortClaims.get("x-01", { namespace: "other" });
  assert.equal(boundReason(waiting), "QuotaExceeded");

  // The namespace count alone, 50 at once against 10: the API server's own quota holds exactly.
  await createNamespace(kube, "counted");
  await cluster.apply(quota("counted", "claims", { [CLAIM_COUNT_RESOURCE]: "10" }));
  await eventually("the quota controller to count claims in counted", async () => {
    const used = await cluster.get("resourcequota claims", "{.status.used}", "counted");
    return used !== "" && JSON.parse(used)[CLAIM_COUNT_RESOURCE] === "0" || undefined;
  });
  const counted = await createAtOnce(kube, "counted", names("n", 50), "bronze");
  assert.equal(counted.admitted.length, 10, counted.refused[0]);
  assert.equal((await claimsOf(kube, "counted")).length, 10);
  for (const message of counted.refused) {
    assert.match(message, /exceeded quota: claims, requested: count\/hostportclaims/);
  }

  // Metrics per namespace, quota and class; a deleted quota takes its series along.
  const goldSeries = "hostport_quota_used_claims{class=gold,namespace=two,quota=per-class}";
  await eventually(
    "the per-class metrics",
    () =>
      rig.operator.metrics.values.get(goldSeries) === 2 &&
        rig.operator.metrics.values.get(
            "hostport_quota_hard_claims{class=silver,namespace=two,quota=per-class}",
          ) === 3 || undefined,
  );
  await cluster.kubectl(["delete", "quota", "per-class", "-n", "two"]);
  await eventually(
    "the deleted quota's series to go",
    () => !rig.operator.metrics.values.has(goldSeries) || undefined,
  );
  const other = "hostport_quota_used_claims{class=gold,namespace=other,quota=per-class}";
  await eventually(
    "the other namespace's series, which stays",
    () => rig.operator.metrics.values.get(other) === 6 || undefined,
  );
});

// Measured (README, Quotas): kube-controller-manager learns a new CRD by discovery within 30 s,
// but a quota made before that lacks the claim count until its full resync (5 min by default)
// and the API server refuses every claim in the namespace meanwhile. The operator fills the
// missing count from a live list.
Deno.test("a quota made right after the CRDs admits claims at once when the operator runs", async () => {
  const cp = await startControlPlane({ crds: false, controllers: true });
  try {
    await cp.installCrds(DEFAULT_CRD_DIR);
    const apply = (manifest: unknown) =>
      cp.kubectl(["apply", "-f", "-"], { stdin: JSON.stringify(manifest) });
    await cp.kubectl(["create", "namespace", "fresh"]);
    assert.equal((await apply(quota("fresh", "q", { [CLAIM_COUNT_RESOURCE]: "2" }))).code, 0);
    await using _operator = await startOperator(cp);
    const start = Date.now();
    await eventually(
      "a claim admitted",
      async () => {
        const result = await cp.kubectl(["create", "-f", "-"], {
          stdin: JSON.stringify(claimObject("fresh", "first", "any")),
        });
        if (result.code !== 0) assert.match(result.stderr, /status unknown for quota: q/);
        return result.code === 0 || undefined;
      },
      60_000,
      500,
    );
    console.log(`first claim admitted ${Date.now() - start} ms after the operator started`);
    // The count is right from then on: the API server counts the rest itself.
    await cp.kubectl(["create", "-f", "-"], {
      stdin: JSON.stringify(claimObject("fresh", "second", "any")),
    });
    const third = await cp.kubectl(["create", "-f", "-"], {
      stdin: JSON.stringify(claimObject("fresh", "third", "any")),
    });
    assert.match(third.stderr, /exceeded quota: q, requested: count\/hostportclaims/);
  } finally {
    await cp.stop();
  }
});
