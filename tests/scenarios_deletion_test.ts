/**
 * Seed scenarios about deletion and binding: S5 (claim deleted while pods use it; pods created
 * directly, as admin objects, in an unlabelled namespace), S6 (HostPort deleted directly), S7
 * (class deleted while in use; claims of a missing class) and S16 (static binding), each with
 * its "Improve". The controllers run in-process against a real kube-apiserver, without webhook.
 */
import assert from "node:assert/strict";
import { deletePodNow } from "./core_clients.ts";
import { startControlPlane } from "./controlplane/harness.ts";
import {
  adminClients,
  boundClaim,
  claimObject,
  classObject,
  ensureNamespace,
  eventually,
  eventuallyGone,
  hostPortObject,
  podObject,
  startOperator,
} from "./controller_harness.ts";

const NS = "free"; // unlabelled: no pod webhook would run here anyway
const GRACE_MS = 1_500;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("deletion and binding scenarios S5, S6, S7 and S16", async (t) => {
  await using cp = await startControlPlane();
  using kube = await adminClients(cp);
  await ensureNamespace(kube, NS);
  await ensureNamespace(kube, "other");
  await using operator = await startOperator(cp, { claimDeletionGraceMs: GRACE_MS });
  await kube.hostPortClasses.create(classObject("c1", [[9000, 9002]]));
  const claims = kube.hostPortClaims;

  await t.step("S5: a deleted claim stays Deleting while a pod that can run names it", async () => {
    await claims.create(claimObject(NS, "a", "c1"));
    const { hostPort } = await boundClaim(kube, NS, "a");
    assert.equal(hostPort.status?.port, 9000);
    await kube.pods.create(podObject(NS, "p1", "a"));
    await kube.pods.create(podObject(NS, "p2", "a"));
    await claims.delete("a", { namespace: NS });
    const deletingClaim = await eventually("claim a to be Deleting", async () => {
      const c = await claims.get("a", { namespace: NS });
      return c.status?.phase === "Deleting" ? c : undefined;
    });
    assert.ok(deletingClaim.metadata.deletionTimestamp);
    await sleep(GRACE_MS + 1_000);
    assert.equal((await claims.get("a", { namespace: NS })).status?.phase, "Deleting");
    const held = await kube.hostPorts.get(hostPort.metadata.name!);
    assert.equal(held.status?.phase, "Allocated");
    assert.equal(held.status?.port, 9000);

    // Improve: a pod that completed no longer holds the claim.
    const p1 = await kube.pods.get("p1", { namespace: NS });
    await kube.pods.updateStatus({ ...p1, status: { ...p1.status, phase: "Succeeded" } });
    await sleep(GRACE_MS);
    assert.ok(await claims.get("a", { namespace: NS }), "p2 can still run");

    await deletePodNow(kube, "p2", NS);
    await eventuallyGone("claim a", () => claims.get("a", { namespace: NS }));
    await eventuallyGone("HostPort of a", () => kube.hostPorts.get(hostPort.metadata.name!));
    await eventually(
      "9000 to be free in the record",
      async () => (await operator.reservedPorts()).includes(9000) ? undefined : true,
    );
    await claims.create(claimObject(NS, "next", "c1"));
    assert.equal((await boundClaim(kube, NS, "next")).claim.status?.port, 9000);
    await eventually(
      "a PortReleased Event on the HostPort of a",
      () =>
        operator.recorder.about("HostPort", hostPort.metadata.name!).some((e) =>
            e.reason === "PortReleased"
          )
          ? true
          : undefined,
    );
  });

  await t.step(
    "S5: a pod created just after deletion began keeps the claim (grace period)",
    async () => {
      await claims.create(claimObject(NS, "b", "c1"));
      await boundClaim(kube, NS, "b");
      await claims.delete("b", { namespace: NS });
      await kube.pods.create(podObject(NS, "late", "b")); // an admission that was in flight
      await eventually("claim b to be Deleting", async () => {
        const b = await claims.get("b", { namespace: NS });
        return b.status?.phase === "Deleting" ? b : undefined;
      });
      await sleep(GRACE_MS + 1_500); // the grace ends within this window: nothing may change
      const b = await claims.get("b", { namespace: NS });
      assert.equal(b.status?.phase, "Deleting");
      await deletePodNow(kube, "late", NS);
      await eventuallyGone("claim b", () => claims.get("b", { namespace: NS }));
    },
  );

  await t.step("S6: a HostPort deleted while its claim exists waits in Deleting", async () => {
    await claims.create(claimObject(NS, "s6", "c1"));
    const { hostPort } = await boundClaim(kube, NS, "s6");
    const name = hostPort.metadata.name!;
    await kube.hostPorts.delete(name);
    const deleting = await eventually("HostPort to be Deleting", async () => {
      const hp = await kube.hostPorts.get(name);
      return hp.status?.phase === "Deleting" ? hp : undefined;
    });
    assert.deepEqual(deleting.metadata.finalizers, ["hostport.rmb938.com"]);
    assert.equal(deleting.status?.port, hostPort.status?.port, "the port stays held");
    const claim = await eventually("claim s6 to report HostPortDeleting", async () => {
      const c = await claims.get("s6", { namespace: NS });
      const bound = c.status?.conditions?.find((x) => x.type === "Bound");
      return bound?.reason === "HostPortDeleting" ? c : undefined;
    });
    assert.equal(claim.status?.phase, "Bound", "the claim stays Bound, as in the original");
    assert.equal(claim.status?.conditions?.find((x) => x.type === "Bound")?.status, "False");
    await claims.delete("s6", { namespace: NS });
    await eventuallyGone("claim s6", () => claims.get("s6", { namespace: NS }));
    await eventuallyGone("HostPort of s6", () => kube.hostPorts.get(name));
  });

  await t.step(
    "S7: a class in use is kept while deleting, with a condition and an Event",
    async () => {
      const { hostPort } = await boundClaim(kube, NS, "next");
      await kube.hostPortClasses.delete("c1");
      const blocked = await eventually("class c1 to report DeletionBlocked", async () => {
        const c = await kube.hostPortClasses.get("c1");
        return c.status?.conditions?.find((x) => x.type === "DeletionBlocked") ? c : undefined;
      });
      const condition = blocked.status?.conditions?.find((x) => x.type === "DeletionBlocked");
      assert.equal(condition?.status, "True");
      assert.equal(condition?.reason, "HostPortsExist");
      await eventually(
        "a ClassInUse Event on class c1",
        () =>
          operator.recorder.about("HostPortClass", "c1").some((e) => e.reason === "ClassInUse")
            ? true
            : undefined,
      );
      const still = await kube.hostPorts.get(hostPort.metadata.name!);
      assert.equal(still.status?.port, hostPort.status?.port, "existing HostPorts are unchanged");
      await claims.delete("next", { namespace: NS });
      await eventuallyGone("class c1", () => kube.hostPortClasses.get("c1"));
    },
  );

  await t.step(
    "S7: a claim of a missing class waits with ClassNotFound, then allocates",
    async () => {
      const e = await claims.create(claimObject(NS, "e", "c9"));
      const hostPortName = `hpc-${e.metadata.uid}`;
      const pending = await eventually("HostPort of e to report ClassNotFound", async () => {
        const hp = await kube.hostPorts.get(hostPortName);
        const c = hp.status?.conditions?.find((x) => x.type === "Allocated");
        return c?.reason === "ClassNotFound" ? hp : undefined;
      });
      assert.equal(pending.status?.phase, "Pending");
      const claim = await eventually("claim e to report ClassNotFound", async () => {
        const c = await claims.get("e", { namespace: NS });
        return c.status?.conditions?.find((x) => x.type === "Bound")?.reason === "ClassNotFound"
          ? c
          : undefined;
      });
      assert.equal(claim.status?.phase, "Pending");
      await kube.hostPortClasses.create(classObject("c9", [[9100, 9101]]));
      assert.equal((await boundClaim(kube, NS, "e")).claim.status?.port, 9100);
    },
  );

  await t.step("S7: deleting a claim of a missing class leaves no HostPort behind", async () => {
    const f = await claims.create(claimObject(NS, "f", "c10"));
    const hostPortName = `hpc-${f.metadata.uid}`;
    await eventually("the Pending HostPort of f", async () => {
      const hp = await kube.hostPorts.get(hostPortName);
      return hp.status?.phase === "Pending" ? hp : undefined;
    });
    await claims.delete("f", { namespace: NS });
    await eventuallyGone("claim f", () => claims.get("f", { namespace: NS }));
    await eventuallyGone(
      "the Pending HostPort of f (Improve: no leak)",
      () => kube.hostPorts.get(hostPortName),
    );
  });

  await t.step("S16: a claim binds to a free static HostPort, and only that claim", async () => {
    await kube.hostPortClasses.create(classObject("c1", [[9000, 9002]]));
    await kube.hostPorts.create(hostPortObject("static1", "c1"));
    const static1 = await eventually("static1 to be Allocated", async () => {
      const hp = await kube.hostPorts.get("static1");
      return hp.status?.phase === "Allocated" ? hp : undefined;
    });
    assert.equal(static1.status?.port, 9000, "the lowest free port");
    assert.deepEqual(static1.metadata.finalizers, ["hostport.rmb938.com"]);
    const s = await claims.create(claimObject(NS, "s", "c1", "static1"));
    const { claim, hostPort } = await boundClaim(kube, NS, "s");
    assert.equal(claim.status?.port, 9000);
    assert.equal(hostPort.spec.claimRef?.uid, s.metadata.uid, "claimed by CAS");

    // Improve (security): another claim cannot take a bound HostPort.
    await claims.create(claimObject("other", "thief", "c1", "static1"));
    const refused = await eventually("claim thief to be refused", async () => {
      const c = await claims.get("thief", { namespace: "other" });
      const bound = c.status?.conditions?.find((x) => x.type === "Bound");
      return bound?.reason === "HostPortClaimedByOther" ? c : undefined;
    });
    assert.equal(refused.status?.phase, "Pending");
    assert.equal(refused.status?.port, undefined);
    await eventually(
      "a BindingRefused Event on claim thief",
      () =>
        operator.recorder.about("HostPortClaim", "thief").some((e) => e.reason === "BindingRefused")
          ? true
          : undefined,
    );
  });

  await t.step("S16: a claim naming a missing HostPort or one of another class waits", async () => {
    await claims.create(claimObject(NS, "nosuch-claim", "c1", "nosuch"));
    const missing = await eventually("claim to report HostPortNotFound", async () => {
      const c = await claims.get("nosuch-claim", { namespace: NS });
      const bound = c.status?.conditions?.find((x) => x.type === "Bound");
      return bound?.reason === "HostPortNotFound" ? c : undefined;
    });
    assert.equal(missing.status?.phase, "Pending");
    await kube.hostPortClasses.create(classObject("c2", [[9200, 9201]]));
    await kube.hostPorts.create(hostPortObject("static2", "c2"));
    await claims.create(claimObject(NS, "mismatch", "c1", "static2"));
    await eventually("claim to report ClassMismatch", async () => {
      const c = await claims.get("mismatch", { namespace: NS });
      const bound = c.status?.conditions?.find((x) => x.type === "Bound");
      return bound?.reason === "ClassMismatch" ? c : undefined;
    });
    assert.equal((await kube.hostPorts.get("static2")).spec.claimRef, undefined, "left free");
  });

  await t.step(
    "S16: deleting the claim keeps static1; deleting static1 then frees its port",
    async () => {
      await claims.delete("s", { namespace: NS });
      await eventuallyGone("claim s", () => claims.get("s", { namespace: NS }));
      await sleep(1_000);
      const kept = await kube.hostPorts.get("static1");
      assert.equal(kept.status?.port, 9000);
      assert.equal(kept.metadata.deletionTimestamp, undefined);
      await kube.hostPorts.delete("static1");
      await eventuallyGone("static1", () => kube.hostPorts.get("static1"));
      await eventually(
        "9000 to be free in the record",
        async () => (await operator.reservedPorts()).includes(9000) ? undefined : true,
      );
    },
  );
});
