import assert from "node:assert/strict";
import { applyJsonPatch } from "./json_patch.ts";
import { listPodPorts, mutatePod, type Pod, podPatch } from "./pod_model.ts";

const VALUES = new Map([["port.hostport.rmb938.com/web", "9000"]]);

function patchOf(pod: Pod, mutation: Parameters<typeof mutatePod>[1]) {
  const mutated = mutatePod(pod, mutation);
  const patch = podPatch(pod, mutated);
  assert.deepEqual(
    applyJsonPatch(pod, patch),
    mutated,
    "the patch turns the pod into the mutated one",
  );
  return patch;
}

Deno.test("podPatch() adds the whole annotation map when the pod has none", () => {
  assert.deepEqual(patchOf({ metadata: { name: "p" } }, { annotations: VALUES }), [
    { op: "add", path: "/metadata/annotations", value: { "port.hostport.rmb938.com/web": "9000" } },
  ]);
  assert.deepEqual(patchOf({}, { annotations: VALUES }), [
    {
      op: "add",
      path: "/metadata",
      value: { annotations: { "port.hostport.rmb938.com/web": "9000" } },
    },
  ]);
});

Deno.test("podPatch() adds missing keys, replaces different ones (escaping /) and skips equal ones", () => {
  const pod = { metadata: { annotations: { "port.hostport.rmb938.com/web": "1", keep: "x" } } };
  const values = new Map([...VALUES, ["port.hostport.rmb938.com/a", "2"], ["keep", "x"]]);
  const patch = patchOf(pod, { annotations: values });
  assert.deepEqual(
    new Set(patch.map((op) => JSON.stringify(op))),
    new Set([
      '{"op":"replace","path":"/metadata/annotations/port.hostport.rmb938.com~1web","value":"9000"}',
      '{"op":"add","path":"/metadata/annotations/port.hostport.rmb938.com~1a","value":"2"}',
    ]),
  );
  assert.deepEqual(mutatePod(pod, {}), pod);
  assert.deepEqual(pod.metadata.annotations["port.hostport.rmb938.com/web"], "1", "pod unchanged");
});

Deno.test("podPatch() sets hostPort, containerPort only when asked, and the label", () => {
  const pod = {
    spec: { containers: [{ ports: [{ containerPort: 80 }, { containerPort: 81, hostPort: 5 }] }] },
  };
  const [plain, preset] = listPodPorts(pod);
  if (plain === undefined || preset === undefined) throw new Error("Expected two ports");
  assert.deepEqual(
    patchOf(pod, { assignments: [{ port: plain, hostPort: 9000, setContainerPort: false }] }),
    [
      { op: "add", path: "/spec/containers/0/ports/0/hostPort", value: 9000 },
    ],
  );
  assert.deepEqual(
    new Set(
      patchOf(pod, { assignments: [{ port: preset, hostPort: 9000, setContainerPort: true }] }),
    ),
    new Set([
      { op: "replace", path: "/spec/containers/0/ports/1/hostPort", value: 9000 },
      { op: "replace", path: "/spec/containers/0/ports/1/containerPort", value: 9000 },
    ]),
  );
  assert.deepEqual(
    patchOf(pod, { assignments: [{ port: preset, hostPort: 5, setContainerPort: false }] }),
    [],
  );
  assert.deepEqual(patchOf(pod, { label: true }), [
    { op: "add", path: "/metadata", value: { labels: { "hostport.rmb938.com/claims": "true" } } },
  ]);
});
