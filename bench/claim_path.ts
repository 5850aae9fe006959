/**
 * Counts the production files on a claim's path from its watch event to its Bound write: the
 * transitive local imports (type-only imports included) of the modules that run on that path,
 * as `deno info --json` resolves them. Usage: `./deno run --allow-read --allow-run bench/claim_path.ts`
 *
 * @module
 */

/** The modules that run from a claim's watch event to its Bound write. */
export const CLAIM_PATH_ENTRIES: readonly string[] = [
  "lib/kube/informer.ts", // the watch event lands in the cache
  "lib/controller/controller.ts", // the work queue and the reconcile loop
  "lib/controller/hostport_claim_controller.ts", // create the HostPort, then write Bound
  "lib/controller/hostport_controller.ts", // reserve a port and write it into the HostPort
  "lib/allocation/cluster_port_allocator.ts", // the allocator and the record it reserves in
];

/** Every production `.ts` file (relative to the repository) the entries import, sorted. */
export async function claimPathFiles(root: string): Promise<string[]> {
  const files = new Set<string>();
  for (const entry of CLAIM_PATH_ENTRIES) {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: root,
      stdout: "piped",
    }).output();
    const graph = JSON.parse(new TextDecoder().decode(output.stdout)) as {
      modules: { specifier: string }[];
    };
    const prefix = new URL(`file://${root}/`).href;
    for (const { specifier } of graph.modules) {
      if (!specifier.startsWith(prefix)) continue;
      const file = specifier.slice(prefix.length);
      if (file.endsWith("_test.ts") || file.startsWith("tests/") || file.startsWith("bench/")) {
        continue;
      }
      files.add(file);
    }
  }
  return [...files].sort();
}

if (import.meta.main) {
  const files = await claimPathFiles(Deno.cwd());
  for (const file of files) console.log(file);
  console.log(`${files.length} files`);
}
