/**
 * Seed scenarios S1 (happy path, 4 writes), S2 (ordering and uniqueness), S3 (exhausted pool,
 * freed port picked up at once) and S17 (claim recreation), with the controllers running
 * in-process against a real kube-apiserver and no webhook.
 */
import assert from "node:assert/strict";
import type { HostPortClaim } from "../lib/api/mod.ts";
import type { KubeClients } from "../lib/kube/mod.ts";
import { type ControlPlane, startControlPlane } from "./controlplane/harness.ts";
import {
  adminClients,
  boundClaim,
  claimObject,
  classObject,
  ensureNamespace,
  eventually,
  eventuallyGone,
  startOperator,
} from "./controller_harness.ts";

const NS = "ns1";
const API = "/apis/hostport.rmb938.com/v1alpha1";
const FINALIZER = "hostport.rmb938.com";

/** Runs `action` and returns the watch events it caused on claims and HostPorts, per name. */
async function countWrites(
  cp: ControlPlane,
  kube: KubeClients,
  action: () => Promise<unknown>,
): Promise<Map<string, string[]>> {
  const seen = new Map<string, string[]>();
  const paths = [
    `${API}/namespaces/${NS}/hostportclaims?resourceVersion=${
      (await kube.hostPortClaims.listAll({ namespace: NS })).resourceVersion
    }`,
    `${API}/hostports?resourceVersion=${(await kube.hostPorts.listAll()).resourceVersion}`,
  ];
  const readers = await Promise.all(paths.map(async (path) => {
    const response = await cp.fetch(`${path}&watch=true`);
    return response.body!.pipeThrough(new TextDecoderStream()).getReader();
  }));
  const follow = async (reader: ReadableStreamDefaultReader<string>) => {
    let partial = "";
    while (true) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: "" }));
      if (done) return;
      const lines = (partial + value).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines.filter((l) => l.trim() !== "")) {
        const event = JSON.parse(line) as { type: string; object: { metadata: { name: string } } };
        const name = event.object.metadata.name;
        seen.set(name, [...(seen.get(name) ?? []), event.type]);
      }
    }
  };
  const following = Promise.all(readers.map(follow));
  await action();
  await Promise.all(readers.map((reader) => reader.cancel()));
  await following;
  return seen;
}

Deno.test("claim lifecycle scenarios S1, S2, S3 and S17", async (t) => {
  await using cp = await startControlPlane();
  using kube = await adminClients(cp);
  await ensureNamespace(kube, NS);
  // No Pending write for a claim that binds slowly on a loaded machine: S1 counts the writes.
  await using operator = await startOperator(cp, {
    claimDeletionGraceMs: 1_000,
    pendingStatusDelayMs: 120_000,
  });
  await kube.hostPortClasses.create(classObject("c1", [[9000, 9002]]));

  await t.step("S1: a claim is bound to hpc-<uid> holding port 9000, in 4 writes", async () => {
    let created: HostPortClaim | undefined;
    const seen = await countWrites(cp, kube, async () => {
      created = await kube.hostPortClaims.create(claimObject(NS, "a", "c1"));
      await boundClaim(kube, NS, "a");
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // any late extra write
    });
    const uid = created!.metadata.uid!;
    const { claim, hostPort } = await boundClaim(kube, NS, "a");
    assert.deepEqual(claim.metadata.finalizers, [FINALIZER]);
    assert.equal(claim.spec.hostPortName, `hpc-${uid}`);
    assert.equal(claim.status?.port, 9000);
    const bound = claim.status?.conditions?.find((c) => c.type === "Bound");
    assert.equal(bound?.status, "True");
    assert.equal(bound?.reason, "Allocated");
    assert.equal(hostPort.metadata.name, `hpc-${uid}`);
    assert.deepEqual(hostPort.metadata.finalizers, [FINALIZER]);
    assert.equal(hostPort.spec.hostPortClassName, "c1");
    assert.deepEqual(
      { ...hostPort.spec.claimRef },
      {
        apiVersion: "hostport.rmb938.com/v1alpha1",
        kind: "HostPortClaim",
        namespace: NS,
        name: "a",
        uid,
      },
    );
    assert.equal(hostPort.status?.phase, "Allocated");
    assert.equal(hostPort.status?.port, 9000);
    const allocated = hostPort.status?.conditions?.find((c) => c.type === "Allocated");
    assert.equal(allocated?.status, "True");
    // Fast path: the user's create, then 2 claim writes; 1 HostPort create and 1 status write.
    assert.deepEqual(seen.get("a"), ["ADDED", "MODIFIED", "MODIFIED"]);
    assert.deepEqual(seen.get(`hpc-${uid}`), ["ADDED", "MODIFIED"]);
    await eventually(
      "a PortAllocated Event naming 9000",
      () =>
        operator.recorder.about("HostPort", `hpc-${uid}`).some((e) =>
            e.reason === "PortAllocated" && e.message.includes("9000")
          )
          ? true
          : undefined,
    );
  });

  await t.step("S1: the class shows its usage and has the finalizer", async () => {
    const hostPortClass = await eventually("class c1 to show 1 of 3 ports allocated", async () => {
      const c = await kube.hostPortClasses.get("c1");
      return c.status?.allocated === 1 ? c : undefined;
    });
    assert.deepEqual(hostPortClass.metadata.finalizers, [FINALIZER]);
    assert.equal(hostPortClass.status?.capacity, 3);
    assert.equal(hostPortClass.status?.free, 2);
    assert.equal(hostPortClass.status?.observedGeneration, 1);
    // The counter is increased after the HostPort status write, which may be seen first.
    await eventually("the metrics to show c1's capacity and its one allocation", () => {
      const capacity = operator.metrics.get("hostport_class_capacity_ports", { class: "c1" });
      const allocations = operator.metrics.get("hostport_allocations_total", { class: "c1" });
      return capacity === 3 && allocations === 1 ? true : undefined;
    });
  });

  await t.step(
    "S2: later claims get the next ports; classes share ports cluster-wide",
    async () => {
      await kube.hostPortClaims.create(claimObject(NS, "b", "c1"));
      assert.equal((await boundClaim(kube, NS, "b")).hostPort.status?.port, 9001);
      await kube.hostPortClaims.create(claimObject(NS, "c", "c1"));
      assert.equal((await boundClaim(kube, NS, "c")).hostPort.status?.port, 9002);
      await kube.hostPortClasses.create(classObject("c2", [[9002, 9005]]));
      await kube.hostPortClaims.create(claimObject(NS, "c2-first", "c2"));
      assert.equal((await boundClaim(kube, NS, "c2-first")).hostPort.status?.port, 9003);
      await kube.hostPortClasses.create(classObject("c3", [[9500, 9600], [9000, 9000]]));
      await kube.hostPortClaims.create(claimObject(NS, "c3-first", "c3"));
      assert.equal((await boundClaim(kube, NS, "c3-first")).hostPort.status?.port, 9500);
    },
  );

  await t.step(
    "S3: an exhausted class leaves the claim Pending, then a freed port is used",
    async () => {
      const d = await kube.hostPortClaims.create(claimObject(NS, "d", "c1"));
      const dHostPort = `hpc-${d.metadata.uid}`;
      const pending = await eventually("HostPort of d to report PoolExhausted", async () => {
        const hp = await kube.hostPorts.get(dHostPort);
        const c = hp.status?.conditions?.find((c) => c.type === "Allocated");
        return c?.reason === "PoolExhausted" ? hp : undefined;
      });
      assert.equal(pending.status?.phase, "Pending");
      assert.equal(pending.status?.port, 0);
      const allocated = pending.status?.conditions?.find((c) => c.type === "Allocated");
      assert.equal(allocated?.message, "no free ports to allocate");
      const claim = await eventually("claim d to be Pending with PoolExhausted", async () => {
        const c = await kube.hostPortClaims.get("d", { namespace: NS });
        const bound = c.status?.conditions?.find((x) => x.type === "Bound");
        return bound?.reason === "PoolExhausted" ? c : undefined;
      });
      assert.equal(claim.status?.phase, "Pending", "Improve: not Bound while no port is held");
      // The Event is recorded after the status write that the polls above saw.
      await eventually(
        `a PoolExhausted Warning on HostPort ${dHostPort}`,
        () =>
          operator.recorder.about("HostPort", dHostPort).some((e) =>
              e.type === "Warning" && e.reason === "PoolExhausted"
            )
            ? true
            : undefined,
      );
      const a = await kube.hostPortClaims.get("a", { namespace: NS });
      await kube.hostPortClaims.delete("a", { namespace: NS });
      await eventuallyGone("claim a", () => kube.hostPortClaims.get("a", { namespace: NS }));
      await eventuallyGone("HostPort of a", () => kube.hostPorts.get(a.spec.hostPortName!));
      const { hostPort } = await boundClaim(kube, NS, "d");
      assert.equal(hostPort.status?.port, 9000, "Improve: the freed port is taken at once");
    },
  );

  await t.step("S17: a claim recreated under its name gets a new HostPort", async () => {
    const old = await kube.hostPortClaims.get("b", { namespace: NS });
    await kube.hostPortClaims.delete("b", { namespace: NS });
    await eventuallyGone("claim b", () => kube.hostPortClaims.get("b", { namespace: NS }));
    const fresh = await kube.hostPortClaims.create(claimObject(NS, "b", "c1"));
    assert.notEqual(fresh.metadata.uid, old.metadata.uid);
    await eventuallyGone("the old HostPort of b", () => kube.hostPorts.get(old.spec.hostPortName!));
    const { claim, hostPort } = await boundClaim(kube, NS, "b");
    assert.equal(hostPort.metadata.name, `hpc-${fresh.metadata.uid}`);
    assert.equal(claim.status?.port, 9001, "the lowest free port when it was allocated");
  });

  await t.step("the allocation record reserves exactly the ports HostPorts hold", async () => {
    const held = (await kube.hostPorts.listAll()).items.map((hp) => hp.status?.port ?? 0)
      .filter((port) => port > 0).sort((x, y) => x - y);
    await eventually("the record to match the held ports", async () => {
      const reserved = await operator.reservedPorts();
      return JSON.stringify(reserved) === JSON.stringify(held) ? true : undefined;
    });
  });
});
