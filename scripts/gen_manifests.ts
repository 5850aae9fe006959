/**
 * Writes the release manifests built by `gen_release_files.ts`: the pieces under
 * `deploy/manifests/`, `deploy/release.yaml` and `deploy/release-cert-manager.yaml`. Run it with
 * `deno task gen`; the output is deterministic, and tests/release_manifests_test.ts fails when a
 * file is out of date. Files under `deploy/manifests/` that the generator no longer makes are
 * removed.
 *
 * @module
 */
import { releaseFiles } from "./gen_release_files.ts";

const deployDir = new URL("../deploy/", import.meta.url);

async function removeStale(expected: ReadonlySet<string>): Promise<void> {
  const dir = new URL("manifests/", deployDir);
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && !expected.has(`manifests/${entry.name}`)) {
      await Deno.remove(new URL(entry.name, dir));
      console.log(`removed ${new URL(entry.name, dir).pathname}`);
    }
  }
}

if (import.meta.main) {
  const files = releaseFiles();
  await Deno.mkdir(new URL("manifests/", deployDir), { recursive: true });
  for (const [path, text] of files) {
    const file = new URL(path, deployDir);
    await Deno.writeTextFile(file, text);
    console.log(`wrote ${file.pathname}`);
  }
  await removeStale(new Set(files.keys()));
}
