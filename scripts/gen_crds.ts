/**
 * Writes the CRDs built by `lib/api/crd.ts` to `deploy/crds/<plural>.yaml`. Run it with
 * `deno task gen` after changing a schema in `lib/api/`; the output is deterministic, so a second
 * run changes nothing.
 *
 * @module
 */
import { buildCrds } from "../lib/api/crd.ts";
import { renderCrdYaml } from "./crd_yaml.ts";

const outDir = new URL("../deploy/crds/", import.meta.url);

if (import.meta.main) {
  for (const crd of buildCrds()) {
    const file = new URL(`${crd.spec.names.plural}.yaml`, outDir);
    await Deno.writeTextFile(file, renderCrdYaml(crd));
    console.log(`wrote ${file.pathname}`);
  }
}
