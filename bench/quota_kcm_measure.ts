/**
 * Measures what README "Quotas" reports about kube-controller-manager's quota controller and our
 * CRD, without the operator: how long claims are refused with "status unknown for quota" when a
 * quota is made right after the CRDs (and when made later, or changed later); what the quota
 * controller and quota admission do with the per-class key; 50 creates at once against a
 * namespace count of 10. About 6 minutes (it waits for the quota controller's 5-minute resync).
 *
 * ```sh
 * export KUBEBUILDER_ASSETS="$(bash tests/controlplane/build.sh)"
 * ./deno run --allow-all bench/quota_kcm_measure.ts
 * ```
 *
 * @module
 */
import { startControlPlane } from "../tests/controlplane/harness.ts";
import { DEFAULT_CRD_DIR } from "../tests/controlplane/options.ts";

const COUNT = "count/hostportclaims.hostport.rmb938.com";
const GOLD = "gold.hostportclass.hostport.rmb938.com/hostportclaims";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const quota = (namespace: string, hard: Record<string, string>) =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "ResourceQuota",
    metadata: { name: "q", namespace },
    spec: { hard },
  });
const claim = (namespace: string, name: string) =>
  JSON.stringify({
    apiVersion: "hostport.rmb938.com/v1alpha1",
    kind: "HostPortClaim",
    metadata: { name, namespace },
    spec: { hostPortClassName: "gold" },
  });

const cp = await startControlPlane({ crds: false, controllers: true });
const kubectl = (args: string[], stdin?: string) =>
  cp.kubectl(args, stdin === undefined ? {} : { stdin });
const status = async (namespace: string) =>
  (await kubectl(["get", "resourcequota", "q", "-n", namespace, "-o", "jsonpath={.status}"]))
    .stdout;
try {
  for (const namespace of ["early", "touched", "late", "keys", "race"]) {
    await kubectl(["create", "namespace", namespace]);
  }
  await kubectl(["apply", "-f", DEFAULT_CRD_DIR]);
  const crdsAt = Date.now();
  const since = () => `${((Date.now() - crdsAt) / 1000).toFixed(1)} s after the CRDs`;
  await sleep(1_000);
  await kubectl(["apply", "-f", "-"], quota("early", { [COUNT]: "10", [GOLD]: "3" }));
  await kubectl(["apply", "-f", "-"], quota("touched", { [COUNT]: "10" }));
  console.log(`quotas early and touched made ${since()}`);

  // (a) Until when is a claim refused with "status unknown for quota"?
  const admittedAt = new Map<string, string>();
  let changed = false;
  for (let i = 0; admittedAt.size < 3 && Date.now() - crdsAt < 420_000; i++) {
    if (!changed && Date.now() - crdsAt > 45_000) {
      changed = true;
      const patch = JSON.stringify({ spec: { hard: { [COUNT]: "11" } } });
      await kubectl(["patch", "resourcequota", "q", "-n", "touched", "--type=merge", "-p", patch]);
      await kubectl(["apply", "-f", "-"], quota("late", { [COUNT]: "10" }));
      console.log(`touched's spec.hard changed and quota late made ${since()}`);
    }
    for (const namespace of changed ? ["early", "touched", "late"] : ["early"]) {
      if (admittedAt.has(namespace)) continue;
      const result = await kubectl(["create", "-f", "-"], claim(namespace, `c${i}`));
      if (result.code === 0) {
        admittedAt.set(namespace, since());
        console.log(`first claim admitted in ${namespace} ${since()}`);
      } else if (i === 0) console.log(`refused: ${result.stderr.trim()}`);
    }
    await sleep(2_000);
  }

  // (b) The per-class key: kept in status.hard, ignored by admission, a written used kept.
  await kubectl(["apply", "-f", "-"], quota("keys", { [COUNT]: "10", [GOLD]: "2" }));
  await sleep(3_000);
  console.log(`keys, fresh: ${await status("keys")}`);
  let admitted = 0;
  for (let i = 0; i < 4; i++) {
    if ((await kubectl(["create", "-f", "-"], claim("keys", `x${i}`))).code === 0) admitted++;
  }
  console.log(`keys: ${admitted} of 4 claims of class gold admitted against ${GOLD}=2`);
  const used = JSON.stringify({ status: { used: { [GOLD]: "4" } } });
  await kubectl([
    "patch",
    "resourcequota",
    "q",
    "-n",
    "keys",
    "--subresource=status",
    "--type=merge",
    "-p",
    used,
  ]);
  const hard = JSON.stringify({ spec: { hard: { [COUNT]: "12" } } });
  await kubectl(["patch", "resourcequota", "q", "-n", "keys", "--type=merge", "-p", hard]);
  await kubectl(["delete", "hostportclaim", "x0", "-n", "keys"]);
  await sleep(5_000);
  console.log(`keys, after writing used and a recount: ${await status("keys")}`);
  console.log((await kubectl(["describe", "resourcequota", "q", "-n", "keys"])).stdout);

  // 50 creates at once against a namespace count of 10.
  await kubectl(["apply", "-f", "-"], quota("race", { [COUNT]: "10" }));
  await sleep(3_000);
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, n) => kubectl(["create", "-f", "-"], claim("race", `r${n}`))),
  );
  const stored = (await kubectl(["get", "hostportclaims", "-n", "race", "-o", "name"])).stdout
    .trim().split("\n").length;
  console.log(
    `race: ${results.filter((r) => r.code === 0).length} of 50 admitted, ${stored} stored`,
  );
} finally {
  await cp.stop();
}
