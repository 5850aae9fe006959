import assert from "node:assert/strict";
import {
  claimNamesOfPod,
  podsBlockingClaim,
  podsHoldingPort,
  type PodSummary,
  summarizePod,
} from "./pods.ts";

function pod(name: string, namespace: string, phase: string, annotations: Record<string, string>) {
  return { metadata: { name, namespace, annotations }, status: { phase } } satisfies PodSummary;
}

Deno.test("claimNamesOfPod() lists each named claim once and skips other annotations", () => {
  const names = claimNamesOfPod(pod("p", "ns1", "Running", {
    "claim.hostport.rmb938.com/web": "a",
    "claim.hostport.rmb938.com/admin": "b",
    "claim.hostport.rmb938.com/dns": "a",
    "claim.hostport.rmb938.com/empty": "",
    "port.hostport.rmb938.com/web": "9000",
    "example.com/claim": "c",
  }));
  assert.deepEqual(names.sort(), ["a", "b"]);
});

Deno.test("podsBlockingClaim() counts pods that can still run, in the claim's namespace only", () => {
  const uses = { "claim.hostport.rmb938.com/web": "a" };
  const pods = [
    pod("running", "ns1", "Running", uses),
    pod("pending", "ns1", "Pending", uses),
    pod("unknown", "ns1", "", uses),
    pod("succeeded", "ns1", "Succeeded", uses),
    pod("failed", "ns1", "Failed", uses),
    pod("elsewhere", "ns2", "Running", uses),
    pod("other-claim", "ns1", "Running", { "claim.hostport.rmb938.com/web": "b" }),
  ];
  const blocking = podsBlockingClaim(pods, "ns1", "a").map((p) => p.metadata.name);
  assert.deepEqual(blocking, ["running", "pending", "unknown"]);
});

Deno.test("podsHoldingPort() keeps pods that can run and carry this port, or none yet", () => {
  const claimA = { "claim.hostport.rmb938.com/web": "a" };
  const pods = [
    pod("admitting", "ns1", "", claimA),
    pod("same-port", "ns1", "Running", { ...claimA, "port.hostport.rmb938.com/web": "9000" }),
    pod("other-port", "ns1", "Running", { ...claimA, "port.hostport.rmb938.com/web": "9001" }),
    pod("other-name", "ns1", "Running", {
      ...claimA,
      "port.hostport.rmb938.com/dns": "9000",
      "port.hostport.rmb938.com/web": "9001",
    }),
    pod("failed", "ns1", "Failed", { ...claimA, "port.hostport.rmb938.com/web": "9000" }),
    pod("elsewhere", "ns2", "Running", claimA),
  ];
  const ref = { namespace: "ns1", name: "a" };
  const holding = podsHoldingPort(pods, ref, 9000).map((p) => p.metadata.name);
  assert.deepEqual(holding, ["admitting", "same-port"]);
  assert.deepEqual(podsHoldingPort(pods, ref, 0), [], "no port, nothing to hold");
});

Deno.test("summarizePod() keeps identity, phase, deletion, claim and port annotations only", () => {
  const summary = summarizePod({
    metadata: {
      name: "p",
      namespace: "ns1",
      uid: "u",
      resourceVersion: "7",
      deletionTimestamp: "2026-01-02T15:04:05Z",
      labels: { app: "web" },
      annotations: {
        "claim.hostport.rmb938.com/web": "a",
        "port.hostport.rmb938.com/web": "9000",
        "other": "x",
      },
      managedFields: [{}],
    },
    spec: { containers: [{ name: "c", image: "i" }] },
    status: { phase: "Running", podIP: "10.0.0.1" },
  } as never);
  assert.deepEqual(summary, {
    metadata: {
      name: "p",
      namespace: "ns1",
      uid: "u",
      resourceVersion: "7",
      deletionTimestamp: "2026-01-02T15:04:05Z",
      annotations: {
        "claim.hostport.rmb938.com/web": "a",
        "port.hostport.rmb938.com/web": "9000",
      },
    },
    status: { phase: "Running" },
  });
});
