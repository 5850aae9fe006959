/**
 * Writes the release manifests built by `gen_release_files.ts`: the pieces under
 * `deploy/manifests/`, `deploy/release.yaml` and `deploy/release-cert-manager.yaml`; and the Helm
 * chart built by `gen_chart.ts` under `deploy/chart/`. Run it with
 * `deno task gen`; the output is deterministic, and tests/release_manifests_test.ts fails when a
 * file is out of date (tests/release_chart_test.ts for the chart). Files under `deploy/manifests/`
 * and the chart's `templates/` and `crds/` that the generator no longer makes are removed.
 *
 * @module
 */
import { chartFiles } from "./gen_chart.ts";
import { releaseFiles } from "./gen_release_files.ts";

const deployDir = new URL("../deploy/", import.meta.url);

async function removeStale(expected: ReadonlySet<string>, subdir: string): Promise<void> {
  const dir = new URL(subdir, deployDir);
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && !expected.has(`${subdir}${entry.name}`)) {
      await Deno.remove(new URL(entry.name, dir));
      console.log(`removed ${new URL(entry.name, dir).pathname}`);
    }
  }
}

if (import.meta.main) {
  const files = new Map([...releaseFiles(), ...chartFiles()]);
  const dirs = ["manifests/", "chart/templates/", "chart/crds/"];
  for (const dir of dirs) await Deno.mkdir(new URL(dir, deployDir), { recursive: true });
  for (const [path, text] of files) {
    const file = new URL(path, deployDir);
    await Deno.writeTextFile(file, text);
    console.log(`wrote ${file.pathname}`);
  }
  for (const dir of dirs) await removeStale(new Set(files.keys()), dir);
}
