/**
 * Proves deploy/crds/ against a real kube-apiserver: the CRDs are accepted and established, the
 * schema and CEL rules reject what they should (with the original's messages) and accept the
 * original's samples, and kubectl shows the descriptions and columns.
 */
import assert from "node:assert/strict";
import { startControlPlane } from "./controlplane/harness.ts";
import { API, assertInvalid, assertOk, object, send } from "./crd_requests.ts";

const NAMESPACE = "crds-test";

function hostPortClass(name: string, spec?: unknown): unknown {
  return object("HostPortClass", { name }, spec);
}

function claim(name: string, spec: unknown): unknown {
  return object("HostPortClaim", { name, namespace: NAMESPACE }, spec);
}

function hostPort(name: string, spec: unknown): unknown {
  return object("HostPort", { name }, spec);
}

Deno.test("deploy/crds on a real kube-apiserver", async (t) => {
  await using cp = await startControlPlane(); // installs deploy/crds and waits until established
  assertOk(await send(cp, "POST", "/api/v1/namespaces", { metadata: { name: NAMESPACE } }));
  const classes = `${API}/hostportclasses`;
  const claims = `${API}/namespaces/${NAMESPACE}/hostportclaims`;
  const hostPorts = `${API}/hostports`;

  await t.step("HostPortClass: the original's sample is accepted", async () => {
    const spec = { pools: [{ start: 9000, end: 9000 }, { start: 9500, end: 9600 }] };
    assertOk(await send(cp, "POST", classes, hostPortClass("sample", spec)));
  });

  await t.step(
    "HostPortClass: out-of-range ports, start > end, no pools and no spec are rejected",
    async () => {
      const create = (name: string, spec?: unknown) =>
        send(cp, "POST", classes, hostPortClass(name, spec));
      assertInvalid(
        await create("low", { pools: [{ start: 0, end: 9000 }] }),
        "spec.pools[0].start",
        "greater than or equal to 1",
      );
      assertInvalid(
        await create("high", { pools: [{ start: 9000, end: 70000 }] }),
        "spec.pools[0].end",
        "less than or equal to 65535",
      );
      assertInvalid(
        await create("reversed", {
          pools: [{ start: 9000, end: 9001 }, { start: 9100, end: 9000 }],
        }),
        "spec.pools[1].end",
        "End must be greater or equal to start",
      );
      assertInvalid(await create("empty", { pools: [] }), "spec.pools", "at least 1 items");
      assertInvalid(await create("nospec"), "spec: Required value: spec is required");
    },
  );

  await t.step(
    "HostPortClaim: an empty or missing class is rejected; the class cannot change",
    async () => {
      assertInvalid(
        await send(cp, "POST", claims, claim("empty", { hostPortClassName: "" })),
        "spec.hostPortClassName",
        "at least 1 chars long",
      );
      assertInvalid(
        await send(cp, "POST", claims, claim("none", {})),
        "spec.hostPortClassName: Required value",
      );
      assertOk(await send(cp, "POST", claims, claim("echo-web", { hostPortClassName: "sample" })));
      assertInvalid(
        await send(cp, "PATCH", `${claims}/echo-web`, { spec: { hostPortClassName: "other" } }),
        "spec.hostPortClassName",
        "cannot change hostPortClassName",
      );
    },
  );

  await t.step(
    "HostPortClaim: hostPortName may go from empty to a name, then never change",
    async () => {
      assertOk(
        await send(
          cp,
          "POST",
          claims,
          claim("bind", { hostPortClassName: "sample", hostPortName: "" }),
        ),
      );
      assertOk(await send(cp, "PATCH", `${claims}/bind`, { spec: { hostPortName: "hpc-1" } }));
      assertInvalid(
        await send(cp, "PATCH", `${claims}/bind`, { spec: { hostPortName: "hpc-2" } }),
        "spec.hostPortName",
        "cannot change hostPortName once set",
      );
      assertInvalid(
        await send(cp, "PATCH", `${claims}/bind`, { spec: { hostPortName: null } }),
        "cannot change hostPortName once set",
      );
    },
  );

  await t.step("HostPort: claimRef can be set once, then neither changed nor removed", async () => {
    assertOk(
      await send(cp, "POST", hostPorts, hostPort("manual", { hostPortClassName: "sample" })),
    );
    const ref = { namespace: NAMESPACE, name: "echo-web", uid: "u-1" };
    assertOk(await send(cp, "PATCH", `${hostPorts}/manual`, { spec: { claimRef: ref } }));
    assertInvalid(
      await send(cp, "PATCH", `${hostPorts}/manual`, { spec: { claimRef: { name: "thief" } } }),
      "spec.claimRef",
      "cannot change claimRef",
    );
    assertInvalid(
      await send(cp, "PATCH", `${hostPorts}/manual`, { spec: { claimRef: null } }),
      "cannot change claimRef",
    );
    assertInvalid(
      await send(cp, "PATCH", `${hostPorts}/manual`, { spec: { hostPortClassName: "other" } }),
      "cannot change hostPortClassName",
    );
  });

  await t.step("HostPort status: a port needs phase Allocated and never changes", async () => {
    const status = `${hostPorts}/manual/status`;
    assertInvalid(
      await send(cp, "PATCH", status, { status: { phase: "Pending", port: 9000 } }),
      "status.port",
      "port can only be set when also setting the phase to Allocated",
    );
    assertOk(await send(cp, "PATCH", status, { status: { phase: "Pending", port: 0 } }));
    assertOk(await send(cp, "PATCH", status, { status: { phase: "Allocated", port: 9000 } }));
    assertInvalid(
      await send(cp, "PATCH", status, { status: { port: 9001 } }),
      "status.port",
      "cannot change port",
    );
    assertInvalid(await send(cp, "PATCH", status, { status: { port: 0 } }), "cannot change port");
    assertOk(await send(cp, "PATCH", status, { status: { phase: "Deleting" } }));
    const stored = await send(cp, "GET", `${hostPorts}/manual`);
    assert.deepEqual(stored.body.status, { phase: "Deleting", port: 9000 });
  });

  await t.step("conditions are validated as metav1.Condition", async () => {
    const condition = {
      type: "Bound",
      status: "True",
      reason: "Allocated",
      message: "Port 9000 is allocated",
      lastTransitionTime: "2026-01-02T15:04:05Z",
    };
    const status = `${claims}/echo-web/status`;
    assertOk(
      await send(cp, "PATCH", status, {
        status: { phase: "Bound", port: 9000, conditions: [condition] },
      }),
    );
    assertInvalid(
      await send(cp, "PATCH", status, {
        status: { conditions: [{ ...condition, reason: "not valid" }] },
      }),
      "status.conditions[0].reason",
    );
  });

  await t.step("kubectl explain shows the field descriptions", async () => {
    const explain = await cp.kubectl(["explain", "hostportclass.spec.pools"]);
    assert.equal(explain.code, 0, explain.stderr);
    assert.match(explain.stdout, /The start port for the pool/);
    assert.match(explain.stdout, /The end port for the pool/);
    const claimRef = await cp.kubectl(["explain", "hp.spec.claimRef"]);
    assert.match(claimRef.stdout, /The referencing claim/);
  });

  await t.step(
    "kubectl get shows the columns, and the hostport-allocator category lists all three kinds",
    async () => {
      const hp = await cp.kubectl(["get", "hp"]);
      assert.equal(hp.code, 0, hp.stderr);
      assert.match(hp.stdout, /^NAME\s+CLASS\s+STATUS\s+PORT\s+CLAIM-NAMESPACE\s+CLAIM\s+AGE\n/);
      assert.match(hp.stdout, /\nmanual\s+sample\s+Deleting\s+9000\s+crds-test\s+echo-web\s+/);
      const hpc = await cp.kubectl(["get", "hpc", "-n", NAMESPACE]);
      assert.match(hpc.stdout, /^NAME\s+STATUS\s+HOSTPORTCLASS\s+HOSTPORT\s+PORT\s+AGE\n/);
      assert.match(hpc.stdout, /\necho-web\s+Bound\s+sample\s+9000\s+/);
      const hpcl = await cp.kubectl(["get", "hpcl"]);
      assert.match(hpcl.stdout, /^NAME\s+CAPACITY\s+ALLOCATED\s+FREE\s+AGE\n/);
      // The singular still names one kind (a `hostport` category would break this).
      const one = await cp.kubectl(["get", "hostport", "manual", "-o", "name"]);
      assert.equal(one.stdout, "hostport.hostport.rmb938.com/manual\n", one.stderr);
      const all = await cp.kubectl(["get", "hostport-allocator", "-A", "-o", "name"]);
      assert.equal(all.code, 0, all.stderr);
      const kinds = new Set(all.stdout.trim().split("\n").map((line) => line.split("/")[0]));
      assert.deepEqual([...kinds].sort(), [
        "hostport.hostport.rmb938.com",
        "hostportclaim.hostport.rmb938.com",
        "hostportclass.hostport.rmb938.com",
      ]);
    },
  );
});
