/**
 * Installs CustomResourceDefinitions from YAML files and waits until they are served.
 *
 * @module
 */
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { z } from "zod";
import type { ApiClient } from "./api_client.ts";
import { ControlPlaneError } from "./errors.ts";
import { waitUntil } from "./wait.ts";

const CRD = z.looseObject({
  apiVersion: z.literal("apiextensions.k8s.io/v1"),
  kind: z.literal("CustomResourceDefinition"),
  metadata: z.looseObject({ name: z.string().min(1) }),
  spec: z.looseObject({
    group: z.string().min(1),
    names: z.looseObject({ plural: z.string().min(1) }),
    versions: z.array(z.looseObject({ name: z.string().min(1), served: z.boolean() })).min(1),
  }),
});

/** A CustomResourceDefinition as read from a file (only the fields the harness needs are typed). */
export type CustomResourceDefinition = z.infer<typeof CRD>;

const CRD_STATUS = z.looseObject({
  status: z.looseObject({
    conditions: z.array(z.looseObject({ type: z.string(), status: z.string() })).optional(),
  }).optional(),
});

/** Returns the CRDs in `dir/*.yaml` (and `*.yml`), in file-name order; none if `dir` is missing. */
export async function loadCrds(dir: string): Promise<CustomResourceDefinition[]> {
  const files: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && /\.ya?ml$/.test(entry.name)) files.push(entry.name);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  const crds: CustomResourceDefinition[] = [];
  for (const name of files.sort()) {
    for (const document of parseAllDocuments(await Deno.readTextFile(join(dir, name)))) {
      if (document.errors.length > 0) {
        throw new ControlPlaneError(`Cannot parse "${name}": ${document.errors[0]?.message}`);
      }
      const value: unknown = document.toJS();
      if (value === null || value === undefined) continue;
      const parsed = CRD.safeParse(value);
      if (!parsed.success) {
        throw new ControlPlaneError(
          `Cannot install "${name}" as a CustomResourceDefinition: ${
            z.prettifyError(parsed.error)
          }`,
        );
      }
      crds.push(parsed.data);
    }
  }
  return crds;
}

async function established(client: ApiClient, crd: CustomResourceDefinition): Promise<boolean> {
  const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`;
  const response = await client.json("GET", path);
  const parsed = CRD_STATUS.safeParse(response.body);
  const conditions = parsed.success ? parsed.data.status?.conditions ?? [] : [];
  if (!conditions.some((c) => c.type === "Established" && c.status === "True")) return false;
  // Established can precede the handler: also wait until every served version lists.
  for (const version of crd.spec.versions.filter((v) => v.served)) {
    const list = await client.json(
      "GET",
      `/apis/${crd.spec.group}/${version.name}/${crd.spec.names.plural}`,
    );
    if (list.status !== 200) return false;
  }
  return true;
}

/**
 * Applies `crds` (server-side apply, so re-installing is harmless) and waits until each is
 * Established and served.
 *
 * @throws {ControlPlaneError} when the apiserver rejects a CRD or one is not served in time
 */
export async function installCrds(
  client: ApiClient,
  crds: readonly CustomResourceDefinition[],
  timeoutMs: number,
): Promise<void> {
  for (const crd of crds) {
    const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}` +
      "?fieldManager=controlplane-harness&force=true";
    await client.expect([200, 201], "PATCH", path, {
      body: crd,
      contentType: "application/apply-patch+yaml",
    });
  }
  for (const crd of crds) {
    await waitUntil(() => established(client, crd), {
      what: `CustomResourceDefinition "${crd.metadata.name}" to be established`,
      timeoutMs,
    });
  }
}
