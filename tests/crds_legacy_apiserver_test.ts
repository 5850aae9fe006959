/**
 * Proves that objects stored under the original operator's CRDs (empty pools, an empty class
 * name, start > end, no spec at all) stay writable after deploy/crds replaces those CRDs, so the
 * operator can still write their status and remove their finalizers.
 */
import assert from "node:assert/strict";
import { buildCrds } from "../lib/api/crd.ts";
import { DEFAULT_CRD_DIR, startControlPlane } from "./controlplane/harness.ts";
import { API, assertInvalid, assertOk, object, send } from "./crd_requests.ts";

const NAMESPACE = "legacy";

/** The CRDs without this project's additions (minItems, minLength, maxLength, CEL), as the original's. */
function originalLikeCrds(): unknown[] {
  const added = new Set(["minItems", "minLength", "maxLength", "x-kubernetes-validations"]);
  const strip = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(strip);
    if (typeof node !== "object" || node === null) return node;
    return Object.fromEntries(
      Object.entries(node).filter(([key]) => !added.has(key)).map((
        [key, value],
      ) => [key, strip(value)]),
    );
  };
  return buildCrds().map(strip);
}

Deno.test("deploy/crds keep objects stored under the original CRDs updatable", async (t) => {
  await using cp = await startControlPlane({ crds: false });
  for (const crd of originalLikeCrds()) {
    const applied = await cp.kubectl(["apply", "-f", "-"], { stdin: JSON.stringify(crd) });
    assert.equal(applied.code, 0, applied.stderr);
  }
  const waited = await cp.kubectl([
    "wait",
    "--for=condition=Established",
    "crd",
    "--all",
    "--timeout=60s",
  ]);
  assert.equal(waited.code, 0, waited.stderr);
  assertOk(await send(cp, "POST", "/api/v1/namespaces", { metadata: { name: NAMESPACE } }));
  const classes = `${API}/hostportclasses`;
  const claims = `${API}/namespaces/${NAMESPACE}/hostportclaims`;
  const finalizers = ["hostport.rmb938.com"];
  const legacy: [string, unknown][] = [
    [classes, object("HostPortClass", { name: "empty", finalizers }, { pools: [] })],
    [
      classes,
      object("HostPortClass", { name: "reversed", finalizers }, {
        pools: [{ start: 9100, end: 9000 }],
      }),
    ],
    [classes, object("HostPortClass", { name: "nospec", finalizers })],
    [
      claims,
      object("HostPortClaim", { name: "blank", namespace: NAMESPACE, finalizers }, {
        hostPortClassName: "",
        hostPortName: "",
      }),
    ],
  ];
  for (const [path, value] of legacy) assertOk(await send(cp, "POST", path, value));
  await cp.installCrds(DEFAULT_CRD_DIR);

  await t.step("finalizers and status can still be written", async () => {
    for (const name of ["empty", "reversed", "nospec"]) {
      assertOk(await send(cp, "PATCH", `${classes}/${name}/status`, { status: { free: 0 } }));
      assertOk(await send(cp, "PATCH", `${classes}/${name}`, { metadata: { finalizers: null } }));
    }
    assertOk(await send(cp, "PATCH", `${claims}/blank/status`, { status: { phase: "Pending" } }));
    assertOk(await send(cp, "PATCH", `${claims}/blank`, { metadata: { finalizers: null } }));
  });

  await t.step("a changed invalid field and new objects meet the new rules", async () => {
    assertInvalid(
      await send(cp, "PATCH", `${classes}/reversed`, {
        spec: { pools: [{ start: 9200, end: 9000 }] },
      }),
      "End must be greater or equal to start",
    );
    assertInvalid(
      await send(cp, "POST", classes, object("HostPortClass", { name: "new" })),
      "spec: Required value",
    );
  });
});
