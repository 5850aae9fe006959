import assert from "node:assert/strict";
import { annotationOps, portOps } from "./pod_patch.ts";
import { listPodPorts } from "./pod_ports.ts";

const VALUES = new Map([["port.hostport.rmb938.com/web", "9000"]]);

Deno.test("annotationOps() adds the whole map when the pod has no annotations", () => {
  assert.deepEqual(annotationOps({ metadata: { name: "p" } }, VALUES), [
    { op: "add", path: "/metadata/annotations", value: { "port.hostport.rmb938.com/web": "9000" } },
  ]);
  assert.deepEqual(annotationOps({}, VALUES), [
    {
      op: "add",
      path: "/metadata",
      value: { annotations: { "port.hostport.rmb938.com/web": "9000" } },
    },
  ]);
});

Deno.test("annotationOps() adds missing keys, replaces different ones and skips equal ones", () => {
  const pod = { metadata: { annotations: { "port.hostport.rmb938.com/web": "1", keep: "x" } } };
  const values = new Map([...VALUES, ["port.hostport.rmb938.com/a", "2"], ["keep", "x"]]);
  assert.deepEqual(annotationOps(pod, values), [
    { op: "replace", path: "/metadata/annotations/port.hostport.rmb938.com~1web", value: "9000" },
    { op: "add", path: "/metadata/annotations/port.hostport.rmb938.com~1a", value: "2" },
  ]);
});

Deno.test("portOps() sets hostPort, and containerPort only when asked", () => {
  const [plain, preset] = listPodPorts({
    spec: { containers: [{ ports: [{ containerPort: 80 }, { containerPort: 81, hostPort: 5 }] }] },
  });
  if (plain === undefined || preset === undefined) throw new Error("Expected two ports");
  assert.deepEqual(portOps([{ port: plain, hostPort: 9000, setContainerPort: false }]), [
    { op: "add", path: "/spec/containers/0/ports/0/hostPort", value: 9000 },
  ]);
  assert.deepEqual(portOps([{ port: preset, hostPort: 9000, setContainerPort: true }]), [
    { op: "replace", path: "/spec/containers/0/ports/1/containerPort", value: 9000 },
    { op: "replace", path: "/spec/containers/0/ports/1/hostPort", value: 9000 },
  ]);
  assert.deepEqual(portOps([{ port: preset, hostPort: 5, setContainerPort: false }]), []);
});
