/**
 * End to end through a real kube-apiserver and kubectl, as a user sees it: our admission server
 * (claims read live, HostPorts from an informer) behind the release's webhook configurations,
 * playing the pod scenarios S1, S5, S11-S15 and S19 of the seed spec, and the CR webhooks
 * (finalizer on create, the class pool message). Claims are bound by hand: no controllers run.
 */
import assert from "node:assert/strict";
import { CLAIM_ANNOTATION_PREFIX, MESSAGE, POD_MESSAGE } from "../lib/api/mod.ts";
import { InvalidError } from "../lib/kube/mod.ts";
import { HOST_NETWORK_DETAIL } from "../webhook/pod_admission.ts";

import {
  admitted,
  hostPorts,
  pod,
  portAnnotation,
  refusal,
  refused,
  startE2eCluster,
  web,
} from "./webhook_e2e_cluster.ts";
import { eventually } from "./controller_harness.ts";

const CLAIM = CLAIM_ANNOTATION_PREFIX;
const ANNOTATION = `metadata.annotations.${CLAIM}`;
const POOL_RULE_PATH = "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/pools" +
  "/items/x-kubernetes-validations";

Deno.test("admission webhooks end to end through kube-apiserver and kubectl", async (t) => {
  await using cluster = await startE2eCluster();
  await cluster.kubectl(["create", "namespace", "ns1"]);
  await cluster.kubectl(["label", "namespace", "ns1", "hostport.rmb938.com=true"]);
  await cluster.kubectl(["create", "namespace", "free"]);
  await cluster.apply({
    apiVersion: "hostport.rmb938.com/v1alpha1",
    kind: "HostPortClass",
    metadata: { name: "c1" },
    spec: { pools: [{ start: 9000, end: 9002 }] },
  });

  await t.step("CR webhooks add the finalizer on create", async () => {
    assert.equal(await cluster.get("hpcl c1", "{.metadata.finalizers}"), '["hostport.rmb938.com"]');
    await cluster.apply({
      apiVersion: "hostport.rmb938.com/v1alpha1",
      kind: "HostPortClaim",
      metadata: { name: "pend", namespace: "ns1" },
      spec: { hostPortClassName: "c1" },
    });
    const claim = JSON.parse(
      await cluster.get("hpc pend", "{}", "ns1").then(() =>
        cluster.kubectl(["get", "hpc", "pend", "-n", "ns1", "-o", "json"])
      ).then((r) => r.stdout),
    );
    assert.deepEqual(claim.metadata.finalizers, ["hostport.rmb938.com"]);
    assert.equal(claim.spec.hostPortName, "");
  });

  await t.step("CR webhooks refuse a class whose pool ends before it starts", async () => {
    const bad = {
      apiVersion: "hostport.rmb938.com/v1alpha1",
      kind: "HostPortClass",
      metadata: { name: "bad" },
      spec: { pools: [{ start: 9100, end: 9000 }] },
    };
    // Our CRD checks this itself (CEL), before any validating webhook is called.
    const byCrd = await cluster.create(bad);
    assert.equal(
      byCrd.stderr.trim(),
      `The HostPortClass "bad" is invalid: spec.pools[0].end: Invalid value: ${MESSAGE.endBeforeStart}`,
    );
    // Without that rule (the original's CRD), the webhook refuses it with the original's text.
    const dropped = await cluster.kubectl([
      "patch",
      "crd",
      "hostportclasses.hostport.rmb938.com",
      "--type=json",
      "-p",
      JSON.stringify([{ op: "remove", path: POOL_RULE_PATH }]),
    ]);
    assert.equal(dropped.code, 0, dropped.stderr);
    // kubectl prints a 422 from its causes; the Status message is the original's, byte for byte.
    const shown = `The HostPortClass "bad" is invalid: spec.pools[0].end: Invalid value: 9000: ` +
      MESSAGE.endBeforeStart;
    await eventually("the API server to serve the CRD without the rule", async () => {
      const lastLine = (await cluster.create(bad)).stderr.trim().split("\n").at(-1) ?? "";
      if (lastLine !== shown) throw new Error(`kubectl printed: ${lastLine}`);
      return true;
    }, 60_000);
    const refusal = await cluster.kube.hostPortClasses.create(bad as never).catch((e) => e);
    assert.ok(refusal instanceof InvalidError, String(refusal));
    assert.equal(
      refusal.status.message,
      'admission webhook "vhostportclass.kb.io" denied the request: HostPortClass.hostport.rmb938.com ' +
        `"bad" is invalid: spec.pools[0].end: Invalid value: 9000: ${MESSAGE.endBeforeStart}`,
    );
  });

  let hostPortA = "";
  await t.step("S1: a pod naming a bound claim gets its port", async () => {
    hostPortA = await cluster.bindClaim("ns1", "a", 9000);
    assert.equal(
      await cluster.get(`hp ${hostPortA}`, "{.metadata.finalizers}"),
      '["hostport.rmb938.com"]',
    );
    await admitted(cluster, pod("p", "ns1", { claims: { web: "a" }, containers: [[web()]] }));
    assert.equal(await hostPorts(cluster, "p"), "9000");
    assert.equal(await portAnnotation(cluster, "p", "web"), "9000");
  });

  await t.step("S11: bad pods are refused with the original's messages", async (s11) => {
    const hostPortNa = await cluster.bindClaim("ns1", "na", 0);
    await cluster.bindClaim("ns1", "b", 9001);
    const cases: { name: string; manifest: unknown; errors: string[] }[] = [
      {
        name: "empty",
        manifest: pod("empty", "ns1", { claims: { web: "" }, containers: [[web()]] }),
        errors: [`${ANNOTATION}web: Invalid value: "": ${POD_MESSAGE.annotationNeedsClaimName}`],
      },
      {
        name: "no port name",
        manifest: pod("noname", "ns1", { claims: { "": "a" }, containers: [[web()]] }),
        errors: [
          `${ANNOTATION}: Invalid value: "${CLAIM}": ${POD_MESSAGE.annotationNeedsPortName}`,
        ],
      },
      {
        name: "nosuch",
        manifest: pod("nosuch", "ns1", { claims: { web: "nosuch" }, containers: [[web()]] }),
        errors: [`${ANNOTATION}web: Not found: "nosuch"`],
      },
      {
        // Unnamed ports only matter when a claimed port is missing: the name may be the typo.
        name: "unnamed",
        manifest: pod("unnamed", "ns1", {
          claims: { web: "b" },
          containers: [[{ containerPort: 8080 }]],
        }),
        errors: [
          `${ANNOTATION}web: Invalid value: "b": no container or init container port is named "web"`,
          `spec.containers[0].ports[0].name: Invalid value: "": ${POD_MESSAGE.portNameRequired}`,
        ],
      },
      {
        name: "duplicate",
        manifest: pod("duplicate", "ns1", {
          claims: { web: "b" },
          containers: [[web()], [{ name: "web", containerPort: 8081 }]],
        }),
        errors: ['spec.containers[1].ports[0].name: Duplicate value: "web"'],
      },
      {
        name: "hostport",
        manifest: pod("hostport", "ns1", {
          containers: [[{ name: "http", containerPort: 8080, hostPort: 8080 }]],
        }),
        errors: [
          `spec.containers[0].ports[0].hostPort: Invalid value: 8080: ${POD_MESSAGE.hostPortsForbidden}`,
        ],
      },
      {
        name: "pending claim",
        manifest: pod("pending", "ns1", { claims: { web: "pend" }, containers: [[web()]] }),
        errors: [`${ANNOTATION}web: Invalid value: "pend": ${POD_MESSAGE.claimNotBound}`],
      },
      {
        name: "HostPort without a port",
        manifest: pod("unallocated", "ns1", { claims: { web: "na" }, containers: [[web()]] }),
        errors: [
          `${ANNOTATION}web.hostPort: Invalid value: "${hostPortNa}": ${POD_MESSAGE.hostPortNotAllocated}`,
        ],
      },
      {
        name: "several problems",
        manifest: pod("several", "ns1", {
          claims: { web: "" },
          containers: [[web(), { name: "other", containerPort: 8081, hostPort: 8081 }]],
        }),
        errors: [
          `${ANNOTATION}web: Invalid value: "": ${POD_MESSAGE.annotationNeedsClaimName}`,
          `spec.containers[0].ports[1].hostPort: Invalid value: 8081: ${POD_MESSAGE.hostPortsForbidden}`,
        ],
      },
    ];
    for (const c of cases) {
      await s11.step(c.name, async () => {
        const name = (c.manifest as { metadata: { name: string } }).metadata.name;
        await refused(cluster, c.manifest, refusal(name, ...c.errors));
      });
    }
  });

  await t.step(
    "S12: unclaimed named ports stay as they are; claimed host ports are replaced",
    async () => {
      await admitted(
        cluster,
        pod("inert", "ns1", {
          claims: { web: "a" },
          containers: [[web(), { name: "metrics", containerPort: 9090 }]],
        }),
      );
      assert.equal(await hostPorts(cluster, "inert"), "9000");
      assert.equal(await portAnnotation(cluster, "inert", "metrics"), "");
      await admitted(
        cluster,
        pod("overwrite", "ns1", { claims: { web: "a" }, containers: [[web(1234)]] }),
      );
      assert.equal(await hostPorts(cluster, "overwrite"), "9000");
      // Changed from the original, which admitted it silently: a claim naming no port is refused.
      await refused(
        cluster,
        pod("no-port", "ns1", { claims: { metrics: "a" }, containers: [[web()]] }),
        refusal(
          "no-port",
          `${ANNOTATION}metrics: Invalid value: "a": no container or init container port is named "metrics"`,
        ),
      );
    },
  );

  await t.step("S13: several claimed ports, and one claim on TCP and UDP", async () => {
    await admitted(
      cluster,
      pod("multi", "ns1", {
        claims: { web: "a", admin: "b" },
        containers: [[web()], [{ name: "admin", containerPort: 8081 }]],
      }),
    );
    assert.equal(await hostPorts(cluster, "multi"), "9000 9001");
    assert.equal(await portAnnotation(cluster, "multi", "web"), "9000");
    assert.equal(await portAnnotation(cluster, "multi", "admin"), "9001");
    const dns = (protocol: string) => [
      { name: "dns-tcp", containerPort: 53, protocol: "TCP" },
      { name: "dns-udp", containerPort: 53, protocol },
    ];
    await admitted(
      cluster,
      pod("dns", "ns1", { claims: { "dns-tcp": "a", "dns-udp": "a" }, containers: [dns("UDP")] }),
    );
    assert.equal(await hostPorts(cluster, "dns"), "9000 9000");
    const twice = await cluster.create(
      pod("dns-twice", "ns1", {
        claims: { "dns-tcp": "a", "dns-udp": "a" },
        containers: [dns("TCP")],
      }),
    );
    assert.notEqual(twice.code, 0);
    assert.match(twice.stderr, /hostPort: Duplicate value: "TCP\/\/9000"/); // the API server's own validation
    assert.doesNotMatch(twice.stderr, /admission webhook/);
  });

  await t.step("S14: pods in an unlabelled namespace are not touched", async () => {
    await cluster.bindClaim("free", "x", 9002);
    await admitted(
      cluster,
      pod("own", "free", { containers: [[{ name: "http", containerPort: 8080, hostPort: 8080 }]] }),
    );
    assert.equal(await hostPorts(cluster, "own", "free"), "8080");
    await admitted(
      cluster,
      pod("claimer", "free", { claims: { web: "x" }, containers: [[web()]] }),
    );
    assert.equal(await hostPorts(cluster, "claimer", "free"), "");
    assert.equal(await portAnnotation(cluster, "claimer", "web", "free"), "");
  });

  await t.step(
    "S15: pod updates keep the port; dropping the claim annotation is refused",
    async () => {
      const label = await cluster.kubectl(["label", "pod", "p", "-n", "ns1", "tier=web"]);
      assert.equal(label.code, 0, label.stderr);
      assert.equal(await hostPorts(cluster, "p"), "9000");
      const drop = await cluster.kubectl(["annotate", "pod", "p", "-n", "ns1", `${CLAIM}web-`]);
      assert.notEqual(drop.code, 0);
      assert.equal(
        drop.stderr.trim(),
        `Error from server (Forbidden): admission webhook "mpod.kb.io" denied the request: Pod "p" is ` +
          `invalid: spec.containers[0].ports[0].hostPort: Invalid value: 9000: ${POD_MESSAGE.hostPortsForbidden}`,
      );
    },
  );

  await t.step("S19: a hostNetwork pod with an unclaimed port is refused", async () => {
    const manifest = pod("hostnet", "ns1", {
      hostNetwork: true,
      containers: [[{ name: "http", containerPort: 8080 }]],
    });
    await refused(
      cluster,
      manifest,
      refusal(
        "hostnet",
        `spec.containers[0].ports[0].hostPort: Invalid value: 8080: ${HOST_NETWORK_DETAIL}`,
      ),
    );
  });

  await t.step(
    "S5: a deleting claim takes no new pods; once gone, pods get Not found",
    async () => {
      const deleted = await cluster.kubectl(["delete", "hpc", "a", "-n", "ns1", "--wait=false"]);
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.notEqual(await cluster.get("hpc a", "{.metadata.deletionTimestamp}", "ns1"), "");
      // Changed from the original (architecture.md "Release"): a deleting claim refuses new pods,
      // so its finalizer can go once its pods are gone without racing new admissions.
      await refused(
        cluster,
        pod("late", "ns1", { claims: { web: "a" }, containers: [[web()]] }),
        refusal("late", `${ANNOTATION}web: Invalid value: "a": ${POD_MESSAGE.claimDeleting}`),
      );
      assert.equal(await hostPorts(cluster, "p"), "9000"); // admitted pods keep their port
      assert.equal(await cluster.get(`hp ${hostPortA}`, "{.status.port}"), "9000");

      // What the claim controller does once no pod uses the claim: drop the finalizer.
      const finalized = await cluster.kubectl([
        "patch",
        "hpc",
        "a",
        "-n",
        "ns1",
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/metadata/finalizers"}]',
      ]);
      assert.equal(finalized.code, 0, finalized.stderr);
      const gone = await cluster.kubectl(["get", "hpc", "a", "-n", "ns1"]);
      assert.match(gone.stderr, /NotFound|not found/);
      await refused(
        cluster,
        pod("too-late", "ns1", { claims: { web: "a" }, containers: [[web()]] }),
        refusal("too-late", `${ANNOTATION}web: Not found: "a"`),
      );
    },
  );
});
