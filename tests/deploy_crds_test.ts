/**
 * Fails when deploy/crds/ is out of date with the zod schemas: run `deno task gen` to fix it.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { buildCrds } from "../lib/api/crd.ts";
import { GENERATED_HEADER, toYaml } from "../scripts/gen_crds.ts";

const CRD_DIR = new URL("../deploy/crds/", import.meta.url);
const HINT = "deploy/crds/ is out of date: run `deno task gen`";

Deno.test("deploy/crds holds exactly one generated file per CRD", async () => {
  const files: string[] = [];
  for await (const entry of Deno.readDir(CRD_DIR)) files.push(entry.name);
  const expected = buildCrds().map((crd) => `${crd.spec.names.plural}.yaml`);
  assert.deepEqual(files.sort(), expected.sort(), HINT);
});

Deno.test("deploy/crds files equal what the generator builds from lib/api", async () => {
  for (const crd of buildCrds()) {
    const name = `${crd.spec.names.plural}.yaml`;
    const text = await Deno.readTextFile(new URL(name, CRD_DIR));
    assert.ok(text.startsWith(GENERATED_HEADER), `${name} lacks the generated header; ${HINT}`);
    // Parsed first, for a readable diff; string enums such as "True" must not turn into booleans.
    assert.deepEqual(parse(text), crd, `${name} differs from the generator; ${HINT}`);
    assert.equal(text, GENERATED_HEADER + toYaml(crd), `${name} is formatted differently; ${HINT}`);
  }
});
