/**
 * Writes the release manifests (`gen_release_files.ts`) and the Helm chart (`gen_chart.ts`) under
 * `deploy/`, removing files there the generator no longer makes. Run with `deno task gen`;
 * tests/release_manifests_test.ts and tests/release_chart_test.ts fail when a file is stale.
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
