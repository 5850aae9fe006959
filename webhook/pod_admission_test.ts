import assert from "node:assert/strict";
import jsonpatch from "fast-json-patch";
import { type HostPort, type HostPortClaim, POD_LABEL_KEY } from "../lib/api/mod.ts";
import {
  admissionReview,
  applyJsonPatch,
  claim,
  failingLookups,
  fakeLookups,
  hostPort,
  hostPortFor,
  patchOf,
  pod,
  type PodOptions,
  port,
  sortedOps,
} from "./fixtures_test.ts";
import { handleAdmission } from "./handler.ts";
import type { AdmissionResponse, JsonPatchOp } from "./review.ts";
import { listPodPorts, mutatePod, type Pod } from "./pod_admission.ts";

const A = "claim.hostport.rmb938.com/";
const BOUND = {
  claims: [claim("a"), claim("b")],
  hostPorts: [hostPortFor("a", 9000), hostPortFor("b", 9001)],
};

async function admit(
  podJson: Record<string, unknown>,
  contents: { claims?: HostPortClaim[]; hostPorts?: HostPort[] } = BOUND,
): Promise<AdmissionResponse> {
  const body = admissionReview({ object: podJson, namespace: "ns1" });
  const result = await handleAdmission("mutatePod", body, fakeLookups(contents));
  if (result.kind !== "review") throw new Error(`Expected a review, got HTTP ${result.status}`);
  return result.review.response;
}

interface RefusalCase {
  name: string;
  pod: PodOptions;
  contents?: { claims?: HostPortClaim[]; hostPorts?: HostPort[] };
  message: string;
}

const HOST_NETWORK_DETAIL = "host ports cannot be set: a hostNetwork pod uses each container " +
  "port as a host port, so each port must be named and claimed with a " +
  "claim.hostport.rmb938.com/<port name> annotation";

const REFUSALS: RefusalCase[] = [
  {
    name: "S11: an empty claim name",
    pod: { annotations: { [`${A}web`]: "" }, containers: [[port("web", 8080)]] },
    message: `Pod "p" is invalid: metadata.annotations.claim.hostport.rmb938.com/web: ` +
      `Invalid value: "": Annotation value must contain the claim name`,
  },
  {
    name: "S11: an annotation without a port name",
    pod: { annotations: { [A]: "a" }, containers: [[port("web", 8080)]] },
    message: `Pod "p" is invalid: metadata.annotations.claim.hostport.rmb938.com/: ` +
      `Invalid value: "claim.hostport.rmb938.com/": Annotation name must contain the port name`,
  },
  {
    name: "S11: a claim that does not exist",
    pod: { annotations: { [`${A}web`]: "nosuch" }, containers: [[port("web", 8080)]] },
    message: `Pod "p" is invalid: metadata.annotations.claim.hostport.rmb938.com/web: ` +
      `Not found: "nosuch"`,
  },
  {
    name: "S11: a claim naming a port that only an unnamed port could be",
    pod: { annotations: { [`${A}web`]: "a" }, containers: [[port(undefined, 8080)]] },
    message: `Pod "p" is invalid: [metadata.annotations.claim.hostport.rmb938.com/web: ` +
      `Invalid value: "a": no container or init container port is named "web", ` +
      `spec.containers[0].ports[0].name: Invalid value: "": Port name must be set]`,
  },
  {
    name: "S11: two ports with the claimed name, in different containers",
    pod: {
      annotations: { [`${A}web`]: "a" },
      containers: [[port("web", 8080)], [port("web", 8081)]],
    },
    message: `Pod "p" is invalid: spec.containers[1].ports[0].name: Duplicate value: "web"`,
  },
  {
    name: "S11: a hostPort without a claim",
    pod: { containers: [[port("http", 8080, 8080)]] },
    message: `Pod "p" is invalid: spec.containers[0].ports[0].hostPort: Invalid value: 8080: ` +
      `host ports cannot be set`,
  },
  {
    name: "S11/S3: a claim whose HostPort has no port yet",
    pod: { annotations: { [`${A}web`]: "a" }, containers: [[port("web", 8080)]] },
    contents: { claims: [claim("a")], hostPorts: [hostPortFor("a", 0)] },
    message: `Pod "p" is invalid: metadata.annotations.claim.hostport.rmb938.com/web.hostPort: ` +
      `Invalid value: "hpc-uid-a": hostport is not allocated a port yet`,
  },
  {
    name: "S11: a claim the operator has not bound yet",
    pod: { annotations: { [`${A}web`]: "a" }, containers: [[port("web", 8080)]] },
    contents: { claims: [claim("a", { hostPortName: "" })] },
    message: `Pod "p" is invalid: metadata.annotations.claim.hostport.rmb938.com/web: ` +
      `Invalid value: "a": hostPortClaim is not bound to a host port yet`,
  },
  {
    name: "a claim without the finalizer counts as not bound yet",
    pod: { annotations: { [`${A}web`]: "a" }, containers: [[port("web", 8080)]] },
    contents: { claims: [claim("a", { finalizer: false })], hostPorts: [hostPortFor("a", 9000)] },
    message: `Pod "p" is invalid: metadata.annotations.claim.hostport.rmb938.com/web: ` +
      `Invalid value: "a": hostPortClaim is not bound to a host port yet`,
  },
  {
    name: "S11: several problems at once, in port-name order",
    pod: {
      annotations: { [`${A}web`]: "nosuch", [`${A}admin`]: "" },
      containers: [[port("web", 8080), port("admin", 8081), port("x", 1, 53)]],
    },
    message: `Pod "p" is invalid: [` +
      `metadata.annotations.claim.hostport.rmb938.com/admin: Invalid value: "": ` +
      `Annotation value must contain the claim name, ` +
      `spec.containers[0].ports[2].hostPort: Invalid value: 53: host ports cannot be set, ` +
      `metadata.annotations.claim.hostport.rmb938.com/web: Not found: "nosuch"]`,
  },
  {
    name: "S5 (improved): a claim being deleted takes no new pods",
    pod: { annotations: { [`${A}web`]: "a" }, containers: [[port("web", 8080)]] },
    contents: { claims: [claim("a", { deleting: true })], hostPorts: [hostPortFor("a", 9000)] },
    message: `Pod "p" is invalid: metadata.annotations.claim.hostport.rmb938.com/web: ` +
      `Invalid value: "a": hostPortClaim is deleting`,
  },
  {
    name: "S6: a HostPort being deleted",
    pod: { annotations: { [`${A}web`]: "a" }, containers: [[port("web", 8080)]] },
    contents: {
      claims: [claim("a")],
      hostPorts: [hostPortFor("a", 9000, { phase: "Deleting", deleting: true })],
    },
    message: `Pod "p" is invalid: metadata.annotations.claim.hostport.rmb938.com/web.hostPort: ` +
      `Invalid value: "hpc-uid-a": hostport is not allocated a port yet`,
  },
  {
    name: "S16: the claim's HostPort is gone",
    pod: { annotations: { [`${A}web`]: "s" }, containers: [[port("web", 8080)]] },
    contents: { claims: [claim("s", { hostPortName: "static1" })] },
    message: `Pod "p" is invalid: metadata.annotations.claim.hostport.rmb938.com/web.hostPort: ` +
      `Not found: "static1"`,
  },
  {
    name: "S16 (improved): a HostPort bound to another claim cannot be used (hijacking)",
    pod: { annotations: { [`${A}web`]: "thief" }, containers: [[port("web", 8080)]] },
    contents: {
      claims: [claim("thief", { hostPortName: "hpc-uid-victim" })],
      hostPorts: [hostPortFor("victim", 9000)],
    },
    message: `Pod "p" is invalid: metadata.annotations.claim.hostport.rmb938.com/web.hostPort: ` +
      `Invalid value: "hpc-uid-victim": hostport is bound to another hostPortClaim`,
  },
  {
    name: "a recreated claim cannot use the HostPort of its namesake (uid differs)",
    pod: { annotations: { [`${A}web`]: "a" }, containers: [[port("web", 8080)]] },
    contents: {
      claims: [claim("a", { uid: "new", hostPortName: "hpc-uid-a" })],
      hostPorts: [hostPortFor("a", 9000)],
    },
    message: `Pod "p" is invalid: metadata.annotations.claim.hostport.rmb938.com/web.hostPort: ` +
      `Invalid value: "hpc-uid-a": hostport is bound to another hostPortClaim`,
  },
  {
    name: "a HostPort of another class cannot be used",
    pod: { annotations: { [`${A}web`]: "s" }, containers: [[port("web", 8080)]] },
    contents: {
      claims: [claim("s", { hostPortName: "static1" })],
      hostPorts: [hostPort("static1", { port: 9000, className: "c2" })],
    },
    message: `Pod "p" is invalid: metadata.annotations.claim.hostport.rmb938.com/web.hostPort: ` +
      `Invalid value: "static1": hostport is of hostPortClass "c2", not "c1"`,
  },
  {
    name: "S19: a hostNetwork pod's ports without claims",
    pod: { hostNetwork: true, containers: [[port("http", 8080, 8080)]] },
    message: `Pod "p" is invalid: spec.containers[0].ports[0].hostPort: Invalid value: 8080: ` +
      HOST_NETWORK_DETAIL,
  },
  {
    name: "a hostPort in an init container (sidecar) without a claim",
    pod: { containers: [[port("web", 8080)]], initContainers: [[port("proxy", 15000, 15000)]] },
    message: `Pod "p" is invalid: spec.initContainers[0].ports[0].hostPort: ` +
      `Invalid value: 15000: host ports cannot be set`,
  },
  {
    name: "a claimed name used by a container and an init container",
    pod: {
      annotations: { [`${A}web`]: "a" },
      containers: [[port("web", 8080)]],
      initContainers: [[port("web", 8081)]],
    },
    message: `Pod "p" is invalid: spec.initContainers[0].ports[0].name: Duplicate value: "web"`,
  },
  {
    name: "a pod created with generateName is named by its prefix",
    pod: { generateName: "echo-7d4b9c-", containers: [[port("http", 80, 80)]] },
    message: `Pod "echo-7d4b9c-<generated>" is invalid: spec.containers[0].ports[0].hostPort: ` +
      `Invalid value: 80: host ports cannot be set`,
  },
];

Deno.test("pod webhook refuses with the original's messages (403 Forbidden)", async (t) => {
  for (const c of REFUSALS) {
    await t.step(c.name, async () => {
      const response = await admit(pod(c.pod), c.contents ?? BOUND);
      assert.deepEqual(response.allowed, false);
      assert.deepEqual(response.status?.code, 403);
      assert.deepEqual(response.status?.reason, "Forbidden");
      assert.deepEqual(response.status?.message, c.message);
      assert.deepEqual(response.patch, undefined);
    });
  }
});

Deno.test("pod webhook lists every error as a cause with its field", async () => {
  const response = await admit(pod({
    annotations: { [`${A}web`]: "nosuch" },
    containers: [[port("web", 8080), port("x", 1, 53)]],
  }));
  assert.deepEqual(response.status?.details, {
    kind: "Pod",
    name: "p",
    causes: [
      {
        reason: "FieldValueInvalid",
        message: "Invalid value: 53: host ports cannot be set",
        field: "spec.containers[0].ports[1].hostPort",
      },
      {
        reason: "FieldValueNotFound",
        message: 'Not found: "nosuch"',
        field: "metadata.annotations.claim.hostport.rmb938.com/web",
      },
    ],
  });
});

interface PatchCase {
  name: string;
  pod: PodOptions;
  contents?: { claims?: HostPortClaim[]; hostPorts?: HostPort[] };
  patch: JsonPatchOp[];
  warnings?: string[];
}

const WEB_PORT = "/metadata/annotations/port.hostport.rmb938.com~1web";

const PATCHES: PatchCase[] = [
  {
    name: "S1: the claimed port gets the host port and the port annotation",
    pod: { annotations: { [`${A}web`]: "a" }, containers: [[port("web", 8080)]] },
    patch: [
      { op: "add", path: WEB_PORT, value: "9000" },
      { op: "add", path: "/spec/containers/0/ports/0/hostPort", value: 9000 },
    ],
  },
  {
    name: "S12: a claimed port's own hostPort is replaced",
    pod: { annotations: { [`${A}web`]: "a" }, containers: [[port("web", 8080, 1234)]] },
    patch: [
      { op: "add", path: WEB_PORT, value: "9000" },
      { op: "replace", path: "/spec/containers/0/ports/0/hostPort", value: 9000 },
    ],
  },
  {
    name: "S13: two claims on ports of different containers",
    pod: {
      annotations: { [`${A}web`]: "a", [`${A}admin`]: "b" },
      containers: [[port("web", 8080)], [port("admin", 9090)]],
    },
    patch: [
      { op: "add", path: "/metadata/annotations/port.hostport.rmb938.com~1admin", value: "9001" },
      { op: "add", path: WEB_PORT, value: "9000" },
      { op: "add", path: "/spec/containers/1/ports/0/hostPort", value: 9001 },
      { op: "add", path: "/spec/containers/0/ports/0/hostPort", value: 9000 },
    ],
  },
  {
    name: "S13: two port names on one claim (TCP and UDP) get the same port",
    pod: {
      annotations: { [`${A}dns-tcp`]: "a", [`${A}dns-udp`]: "a" },
      containers: [[port("dns-tcp", 53), { ...port("dns-udp", 53), protocol: "UDP" }]],
    },
    patch: [
      { op: "add", path: "/metadata/annotations/port.hostport.rmb938.com~1dns-tcp", value: "9000" },
      { op: "add", path: "/metadata/annotations/port.hostport.rmb938.com~1dns-udp", value: "9000" },
      { op: "add", path: "/spec/containers/0/ports/0/hostPort", value: 9000 },
      { op: "add", path: "/spec/containers/0/ports/1/hostPort", value: 9000 },
    ],
  },
  {
    name: "unnamed and repeated unclaimed ports are fine beside a claim (sidecars)",
    pod: {
      annotations: { [`${A}web`]: "a" },
      containers: [[port("web", 8080), port(undefined, 15090)], [port("metrics", 9100)], [
        port("metrics", 9101),
      ]],
    },
    patch: [
      { op: "add", path: WEB_PORT, value: "9000" },
      { op: "add", path: "/spec/containers/0/ports/0/hostPort", value: 9000 },
    ],
  },
  {
    name: "a claim may target an init container's port (native sidecar)",
    pod: {
      annotations: { [`${A}proxy`]: "a" },
      containers: [[port("web", 8080)]],
      initContainers: [[port("proxy", 15000)]],
    },
    patch: [
      { op: "add", path: "/metadata/annotations/port.hostport.rmb938.com~1proxy", value: "9000" },
      { op: "add", path: "/spec/initContainers/0/ports/0/hostPort", value: 9000 },
    ],
  },
  {
    name: "a hostNetwork pod's claimed port gets containerPort and hostPort both",
    pod: {
      hostNetwork: true,
      annotations: { [`${A}web`]: "a" },
      containers: [[port("web", 8080, 8080)]],
    },
    patch: [
      { op: "add", path: WEB_PORT, value: "9000" },
      { op: "replace", path: "/spec/containers/0/ports/0/containerPort", value: 9000 },
      { op: "replace", path: "/spec/containers/0/ports/0/hostPort", value: 9000 },
    ],
    warnings: [
      "spec.containers[0].ports[0].containerPort: set from 8080 to 9000, because a hostNetwork " +
      "pod listens on its host port; read it from the annotation port.hostport.rmb938.com/web",
    ],
  },
  {
    name: "a static HostPort with no claimRef yet may be used",
    pod: { annotations: { [`${A}web`]: "s" }, containers: [[port("web", 8080)]] },
    contents: {
      claims: [claim("s", { hostPortName: "static1" })],
      hostPorts: [hostPort("static1", { port: 9005 })],
    },
    patch: [
      { op: "add", path: WEB_PORT, value: "9005" },
      { op: "add", path: "/spec/containers/0/ports/0/hostPort", value: 9005 },
    ],
  },
  {
    name: "values already in place need no operation",
    pod: {
      labels: { [POD_LABEL_KEY]: "true" },
      annotations: { [`${A}web`]: "a", "port.hostport.rmb938.com/web": "9000" },
      containers: [[port("web", 8080, 9000)]],
    },
    patch: [],
  },
  {
    name: "the label the operator watches pods by joins the pod's other labels",
    pod: {
      labels: { app: "x" },
      annotations: { [`${A}web`]: "a", "port.hostport.rmb938.com/web": "9000" },
      containers: [[port("web", 8080, 9000)]],
    },
    patch: [{ op: "add", path: "/metadata/labels/hostport.rmb938.com~1claims", value: "true" }],
  },
  {
    // A body decoded elsewhere may hold one; the API server, reading JSON, sees no hostPort.
    name: "a port whose hostPort is undefined in memory gets it added",
    pod: {
      annotations: { [`${A}web`]: "a" },
      containers: [[{ ...port("web", 8080), hostPort: undefined }]],
    },
    patch: [
      { op: "add", path: WEB_PORT, value: "9000" },
      { op: "add", path: "/spec/containers/0/ports/0/hostPort", value: 9000 },
    ],
  },
  {
    name: "a pod without claims or host ports is admitted unchanged",
    pod: { annotations: { team: "x" }, containers: [[port("web", 8080), port(undefined, 81)]] },
    patch: [],
  },
];

Deno.test("pod webhook patches only what changes, keeping unknown fields", async (t) => {
  for (const c of PATCHES) {
    await t.step(c.name, async () => {
      const input = pod(c.pod);
      const response = await admit(input, c.contents ?? BOUND);
      assert.deepEqual(response.allowed, true);
      // A pod given a port without any label also gets the one the operator watches pods by.
      const namesClaim = Object.keys(c.pod.annotations ?? {}).some((key) => key.startsWith(A));
      const labelOp = namesClaim && c.pod.labels === undefined ? [LABEL_OP] : [];
      assert.deepEqual(sortedOps(patchOf(response)), sortedOps([...c.patch, ...labelOp]));
      assert.deepEqual(response.patchType, patchOf(response).length > 0 ? "JSONPatch" : undefined);
      assert.deepEqual(response.warnings, c.warnings);
      const patched = applyJsonPatch(input, patchOf(response)) as ReturnType<typeof pod>;
      assert.deepEqual(patched.metadata, {
        ...input.metadata as object,
        ...patchedMetadata(patched),
      });
    });
  }
});

/** The labels and annotations of a patched pod (the only metadata the webhook may change). */
function patchedMetadata(patched: Record<string, unknown>): Record<string, unknown> {
  const metadata = patched.metadata as Record<string, unknown>;
  return {
    ...metadata.labels === undefined ? {} : { labels: metadata.labels },
    ...metadata.annotations === undefined ? {} : { annotations: metadata.annotations },
  };
}

const LABEL_OP: JsonPatchOp = {
  op: "add",
  path: "/metadata/labels",
  value: { [POD_LABEL_KEY]: "true" },
};

Deno.test("pod webhook's patch gives the expected pod and keeps fields it does not know", async () => {
  const input = pod({
    annotations: { [`${A}web`]: "a" },
    containers: [[port(undefined, 81), port("web", 8080)]],
  });
  const response = await admit(input);
  const expected = structuredClone(input) as {
    metadata: { labels?: Record<string, string>; annotations: Record<string, string> };
    spec: { containers: { ports: Record<string, unknown>[] }[] };
  };
  expected.metadata.annotations["port.hostport.rmb938.com/web"] = "9000";
  expected.metadata.labels = { [POD_LABEL_KEY]: "true" };
  (expected.spec.containers[0]?.ports[1] as Record<string, unknown>).hostPort = 9000;
  assert.deepEqual(applyJsonPatch(input, patchOf(response)), expected);
});

Deno.test("pod webhook looks claims up in the pod's namespace only", async () => {
  const lookups = fakeLookups({
    claims: [claim("a", { namespace: "other" })],
    hostPorts: [hostPortFor("a", 9000)],
  });
  const body = admissionReview({
    namespace: "ns1",
    object: pod({ annotations: { [`${A}web`]: "a" }, containers: [[port("web", 8080)]] }),
  });
  const result = await handleAdmission("mutatePod", body, lookups);
  assert.deepEqual(
    result.kind === "review" && result.review.response.status?.message,
    `Pod "p" is invalid: metadata.annotations.claim.hostport.rmb938.com/web: Not found: "a"`,
  );
  assert.deepEqual(lookups.calls, ["claim ns1/a"]);
});

Deno.test("pod webhook refuses more than 64 claim annotations without looking any up", async () => {
  const annotations: Record<string, string> = {};
  for (let i = 0; i < 65; i++) annotations[`${A}p${i}`] = "a";
  const lookups = fakeLookups(BOUND);
  const body = admissionReview({ namespace: "ns1", object: pod({ annotations }) });
  const result = await handleAdmission("mutatePod", body, lookups);
  const message = result.kind === "review" ? result.review.response.status?.message ?? "" : "";
  assert.deepEqual(
    message.startsWith(
      `Pod "p" is invalid: [metadata.annotations: Too many: 65: must have at most 64 items, `,
    ),
    true,
  );
  assert.deepEqual(lookups.calls, []);
});

const P = "port.hostport.rmb938.com/";

/** The pod of S1 as stored: claim `a` on port web, injected 9000. */
const ADMITTED: PodOptions = {
  annotations: { [`${A}web`]: "a", [`${P}web`]: "9000" },
  containers: [[port("web", 8080, 9000)]],
};

async function update(
  newPod: PodOptions,
  oldPod: PodOptions = ADMITTED,
): Promise<AdmissionResponse> {
  const body = admissionReview({
    operation: "UPDATE",
    object: pod(newPod),
    oldObject: pod(oldPod),
  });
  // Updates need no lookups: failing ones prove none is made.
  const result = await handleAdmission("mutatePod", body, failingLookups("no lookups"));
  if (result.kind !== "review") throw new Error(`Expected a review, got HTTP ${result.status}`);
  return result.review.response;
}

interface UpdateCase {
  name: string;
  pod: PodOptions;
  oldPod?: PodOptions;
  message?: string;
  patch?: JsonPatchOp[];
}

const CASES: UpdateCase[] = [
  {
    name: "S15: relabelling an admitted pod is allowed unchanged",
    pod: { ...ADMITTED, annotations: { ...ADMITTED.annotations, team: "x" } },
    patch: [],
  },
  {
    name: "S15: removing the claim annotation while the port holds the host port is refused",
    pod: { ...ADMITTED, annotations: { [`${P}web`]: "9000" } },
    message: `Pod "p" is invalid: spec.containers[0].ports[0].hostPort: Invalid value: 9000: ` +
      `host ports cannot be set`,
  },
  {
    name: "changing a claim annotation's value is refused",
    pod: { ...ADMITTED, annotations: { [`${A}web`]: "b", [`${P}web`]: "9000" } },
    message: `Pod "p" is invalid: metadata.annotations.claim.hostport.rmb938.com/web: ` +
      `Invalid value: "b": cannot change the claim of an existing pod`,
  },
  {
    name: "adding a claim annotation is refused",
    pod: { ...ADMITTED, annotations: { ...ADMITTED.annotations, [`${A}admin`]: "b" } },
    message: `Pod "p" is invalid: metadata.annotations.claim.hostport.rmb938.com/admin: ` +
      `Forbidden: cannot add a claim to an existing pod`,
  },
  {
    name: "a port annotation changed by the update is put back",
    pod: { ...ADMITTED, annotations: { [`${A}web`]: "a", [`${P}web`]: "1" } },
    patch: [{
      op: "replace",
      path: "/metadata/annotations/port.hostport.rmb938.com~1web",
      value: "9000",
    }],
  },
  {
    name: "a port annotation dropped by the update is put back",
    pod: { ...ADMITTED, annotations: { [`${A}web`]: "a" } },
    patch: [{
      op: "add",
      path: "/metadata/annotations/port.hostport.rmb938.com~1web",
      value: "9000",
    }],
  },
  {
    name: "removing a claim whose port holds no host port is refused while the pod can run",
    pod: { containers: [[port("web", 8080)]] },
    oldPod: { annotations: { [`${A}web`]: "a" }, containers: [[port("web", 8080)]] },
    message: `Pod "p" is invalid: metadata.annotations.claim.hostport.rmb938.com/web: ` +
      `Forbidden: cannot remove the claim of a pod that can still run`,
  },
  {
    name: "a pod being deleted cannot drop its claim (it still runs)",
    pod: { ...ADMITTED, deleting: true, annotations: { [`${P}web`]: "9000" } },
    oldPod: { ...ADMITTED, deleting: true },
    message: `Pod "p" is invalid: spec.containers[0].ports[0].hostPort: Invalid value: 9000: ` +
      `host ports cannot be set`,
  },
  {
    name: "a pod being deleted cannot change its claim",
    pod: { ...ADMITTED, deleting: true, annotations: { [`${A}web`]: "other", [`${P}web`]: "9" } },
    oldPod: { ...ADMITTED, deleting: true },
    message: `Pod "p" is invalid: metadata.annotations.claim.hostport.rmb938.com/web: ` +
      `Invalid value: "other": cannot change the claim of an existing pod`,
  },
  {
    name: "a pod being deleted may be relabelled (seed 5.4 #26: never stuck in Terminating)",
    pod: { ...ADMITTED, deleting: true, annotations: { ...ADMITTED.annotations, team: "x" } },
    oldPod: { ...ADMITTED, deleting: true },
    patch: [],
  },
  {
    name: "a pod being deleted gets a dropped port annotation back",
    pod: { ...ADMITTED, deleting: true, annotations: { [`${A}web`]: "a" } },
    oldPod: { ...ADMITTED, deleting: true },
    patch: [{
      op: "add",
      path: "/metadata/annotations/port.hostport.rmb938.com~1web",
      value: "9000",
    }],
  },
  {
    name: "a running pod being deleted cannot drop its claim either",
    pod: { ...ADMITTED, phase: "Running", annotations: {} },
    oldPod: { ...ADMITTED, deleting: true, phase: "Running" },
    message: `Pod "p" is invalid: spec.containers[0].ports[0].hostPort: Invalid value: 9000: ` +
      `host ports cannot be set`,
  },
  {
    name: "a pod that has Succeeded may drop its claim",
    pod: { ...ADMITTED, phase: "Succeeded", annotations: {} },
    oldPod: { ...ADMITTED, phase: "Succeeded" },
    patch: [],
  },
  {
    name: "a pod that has Failed may change anything",
    pod: { ...ADMITTED, annotations: { [`${A}web`]: "b" } },
    oldPod: { ...ADMITTED, deleting: true, phase: "Failed" },
    patch: [],
  },
  {
    name: "a claim reaching the finished phase in the same update is still guarded",
    pod: { ...ADMITTED, phase: "Succeeded", annotations: {} },
    oldPod: { ...ADMITTED, phase: "Running" },
    message: `Pod "p" is invalid: spec.containers[0].ports[0].hostPort: Invalid value: 9000: ` +
      `host ports cannot be set`,
  },
  {
    name: "an update of a pod admitted before the namespace was labelled is allowed",
    pod: { containers: [[port("http", 80, 80)]], annotations: { team: "y" } },
    oldPod: { containers: [[port("http", 80, 80)]] },
    patch: [],
  },
  {
    name: "removing the claim of a hostNetwork pod explains hostNetwork",
    pod: { hostNetwork: true, containers: [[port("web", 9000, 9000)]] },
    oldPod: {
      hostNetwork: true,
      annotations: { [`${A}web`]: "a" },
      containers: [[port("web", 9000, 9000)]],
    },
    message: `Pod "p" is invalid: spec.containers[0].ports[0].hostPort: Invalid value: 9000: ` +
      "host ports cannot be set: a hostNetwork pod uses each container port as a host port, so " +
      "each port must be named and claimed with a claim.hostport.rmb938.com/<port name> annotation",
  },
];

Deno.test("pod webhook guards only the claims of an updated pod", async (t) => {
  for (const c of CASES) {
    await t.step(c.name, async () => {
      const response = await update(c.pod, c.oldPod);
      if (c.message !== undefined) {
        assert.equal(response.allowed, false);
        assert.equal(response.status?.code, 403);
        assert.equal(response.status?.message, c.message);
      } else {
        assert.equal(response.allowed, true);
        assert.deepEqual(patchOf(response), c.patch);
      }
    });
  }
});

Deno.test("pod webhook guards updates through pods/status like pod updates", async () => {
  const body = admissionReview({
    operation: "UPDATE",
    subResource: "status",
    object: pod({ ...ADMITTED, deleting: true, annotations: { [`${P}web`]: "9000" } }),
    oldObject: pod({ ...ADMITTED, deleting: true, phase: "Running" }),
  });
  const result = await handleAdmission("mutatePod", body, failingLookups("x"));
  assert.equal(result.kind === "review" && result.review.response.allowed, false);
});

const VALUES = { "port.hostport.rmb938.com/web": "9000" };

/** The patch the webhook sends for `mutation`, checked to turn the pod into the mutated one. */
function modelPatchOf(pod: Pod, mutation: Parameters<typeof mutatePod>[1]) {
  const mutated = mutatePod(pod, mutation);
  const patch = jsonpatch.compare(pod, mutated);
  assert.deepEqual(
    applyJsonPatch(pod, patch),
    mutated,
    "the patch turns the pod into the mutated one",
  );
  return patch;
}

Deno.test("mutatePod() adds the whole annotation map when the pod has none", () => {
  assert.deepEqual(modelPatchOf({ metadata: { name: "p" } }, { annotations: VALUES }), [
    { op: "add", path: "/metadata/annotations", value: { "port.hostport.rmb938.com/web": "9000" } },
  ]);
  assert.deepEqual(modelPatchOf({}, { annotations: VALUES }), [
    {
      op: "add",
      path: "/metadata",
      value: { annotations: { "port.hostport.rmb938.com/web": "9000" } },
    },
  ]);
});

Deno.test("mutatePod() adds missing keys, replaces different ones (escaping /) and skips equal ones", () => {
  const pod = { metadata: { annotations: { "port.hostport.rmb938.com/web": "1", keep: "x" } } };
  const values = { ...VALUES, "port.hostport.rmb938.com/a": "2", keep: "x" };
  assert.deepEqual(modelPatchOf(pod, { annotations: values }), [
    { op: "replace", path: "/metadata/annotations/port.hostport.rmb938.com~1web", value: "9000" },
    { op: "add", path: "/metadata/annotations/port.hostport.rmb938.com~1a", value: "2" },
  ]);
  assert.deepEqual(modelPatchOf(pod, {}), []);
  assert.deepEqual(pod.metadata.annotations["port.hostport.rmb938.com/web"], "1", "pod unchanged");
});

Deno.test("mutatePod() sets hostPort, containerPort only for hostNetwork pods, and the label", () => {
  const pod = {
    spec: { containers: [{ ports: [{ containerPort: 80 }, { containerPort: 81, hostPort: 5 }] }] },
  };
  const [plain, preset] = listPodPorts(pod);
  if (plain === undefined || preset === undefined) throw new Error("Expected two ports");
  assert.deepEqual(
    modelPatchOf(pod, { assignments: [{ port: plain, hostPort: 9000 }] }),
    [{ op: "add", path: "/spec/containers/0/ports/0/hostPort", value: 9000 }],
  );
  const hostNetwork = { spec: { ...pod.spec, hostNetwork: true } };
  assert.deepEqual(
    modelPatchOf(hostNetwork, { assignments: [{ port: preset, hostPort: 9000 }] }),
    [
      { op: "replace", path: "/spec/containers/0/ports/1/hostPort", value: 9000 },
      { op: "replace", path: "/spec/containers/0/ports/1/containerPort", value: 9000 },
    ],
  );
  assert.deepEqual(modelPatchOf(pod, { assignments: [{ port: preset, hostPort: 5 }] }), []);
  assert.deepEqual(pod.spec.containers[0]?.ports[1], { containerPort: 81, hostPort: 5 });
  assert.deepEqual(modelPatchOf(pod, { label: true }), [
    { op: "add", path: "/metadata", value: { labels: { "hostport.rmb938.com/claims": "true" } } },
  ]);
});
