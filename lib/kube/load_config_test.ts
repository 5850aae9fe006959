import assert from "node:assert/strict";
import { KubeConfigError } from "./kubeconfig.ts";
import { readKubeConfigFiles, selectConfigSource } from "./load_config.ts";

Deno.test("selectConfigSource() follows --kubeconfig, KUBECONFIG, in-cluster, ~/.kube/config", () => {
  const inputs = { kubeconfigEnv: "/a:/b", home: "/home/me", inCluster: true };
  assert.deepEqual(selectConfigSource({ ...inputs, kubeconfigFlag: "/flag" }), {
    type: "files",
    paths: ["/flag"],
    explicit: true,
  });
  assert.deepEqual(selectConfigSource(inputs), {
    type: "files",
    paths: ["/a", "/b"],
    explicit: false,
  });
  assert.deepEqual(selectConfigSource({ ...inputs, kubeconfigEnv: "" }), { type: "in-cluster" });
  assert.deepEqual(selectConfigSource({ home: "/home/me", inCluster: false }), {
    type: "files",
    paths: ["/home/me/.kube/config"],
    explicit: false,
  });
});

Deno.test("selectConfigSource() ignores empty entries of KUBECONFIG", () => {
  assert.deepEqual(selectConfigSource({ kubeconfigEnv: ":/a::/b:", inCluster: false }), {
    type: "files",
    paths: ["/a", "/b"],
    explicit: false,
  });
});

function notFound(path: string): Error {
  const error = new Error(`No such file or directory (os error 2): readfile '${path}'`);
  error.name = "NotFound";
  return error;
}

const reader = (files: Record<string, string>) => (path: string) =>
  files[path] === undefined ? Promise.reject(notFound(path)) : Promise.resolve(files[path]!);

Deno.test("readKubeConfigFiles() skips missing files of a KUBECONFIG list", async () => {
  const loaded = await readKubeConfigFiles(["/missing", "/there"], {
    explicit: false,
    readFile: reader({ "/there": "current-context: x" }),
  });
  assert.deepEqual(loaded.map((f) => f.path), ["/there"]);
  assert.equal(loaded[0]?.config["current-context"], "x");
});

Deno.test("readKubeConfigFiles() fails when an explicit --kubeconfig file is missing", async () => {
  await assert.rejects(
    readKubeConfigFiles(["/nope"], { explicit: true, readFile: reader({}) }),
    (error: unknown) => {
      assert.ok(error instanceof KubeConfigError);
      assert.match(
        error.message,
        /^Cannot load kubeconfig "\/nope": cannot read the file: No such file/,
      );
      return true;
    },
  );
});

Deno.test("readKubeConfigFiles() fails when no file of the list exists", async () => {
  await assert.rejects(
    readKubeConfigFiles(["/a", "/b"], { explicit: false, readFile: reader({}) }),
    {
      name: "KubeConfigError",
      message: 'Cannot load kubeconfig "/a:/b": no such file, and no in-cluster service account',
    },
  );
});

Deno.test("readKubeConfigFiles() reports a file it cannot read for another reason", async () => {
  const denied = () =>
    Promise.reject(Object.assign(new Error("Permission denied"), { name: "PermissionDenied" }));
  await assert.rejects(readKubeConfigFiles(["/a"], { explicit: false, readFile: denied }), {
    message: 'Cannot load kubeconfig "/a": cannot read the file: Permission denied',
  });
});
