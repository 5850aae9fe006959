/**
 * The bundle (`deno task bundle`, and what the Dockerfile compiles) is self-contained: copied
 * alone into an empty directory and run with an empty DENO_DIR and only the pinned Deno binary
 * (no deno.json, no node_modules, no lockfile, no registry), it prints its help, starts against a
 * real API server until /readyz, serves /metrics, and stops on SIGTERM.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startControlPlane } from "./controlplane/harness.ts";
import { eventually } from "./controller_harness.ts";
import {
  MOD_TS,
  OPERATOR_PERMISSIONS,
  OperatorProcess,
  webhookCertDir,
} from "./demo/operator_process.ts";

const DENO_JSON = fileURLToPath(new URL("../deno.json", import.meta.url));
const BUNDLE_NAME = "hostport-allocator.js";
/** The `/metrics` line of a process that holds the Lease. */
const LEADING = /^leader_election_master_status\{name="f10832af\.rmb938\.com"\} 1$/m;

/** Bundles mod.ts the way `deno task bundle` does, into `outFile`. */
async function bundle(outFile: string): Promise<void> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform", "deno", "-o", outFile, MOD_TS],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
}

/** An empty directory holding only the bundle, and an empty DENO_DIR. */
async function isolatedBundle(): Promise<{ dir: string; denoDir: string; script: string }> {
  const dir = await Deno.makeTempDir({ prefix: "hostport-bundle-" });
  const denoDir = await Deno.makeTempDir({ prefix: "hostport-bundle-deno-dir-" });
  const script = join(dir, BUNDLE_NAME);
  await bundle(script);
  return { dir, denoDir, script };
}

async function filesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    found.push(entry.name);
    if (entry.isDirectory) {
      found.push(...(await filesUnder(join(dir, entry.name))).map((n) => `${entry.name}/${n}`));
    }
  }
  return found;
}

Deno.test("deno task bundle writes the bundle the Dockerfile compiles", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(DENO_JSON)).tasks;
  const command = typeof tasks.bundle === "string" ? tasks.bundle : tasks.bundle.command;
  assert.equal(command, `deno bundle --platform deno -o dist/${BUNDLE_NAME} mod.ts`);
  const dockerfile = await Deno.readTextFile(new URL("../Dockerfile", import.meta.url));
  assert.ok(dockerfile.includes(`deno bundle --platform deno -o dist/${BUNDLE_NAME} mod.ts`));
  assert.ok(
    dockerfile.includes(OPERATOR_PERMISSIONS.join(" ")),
    "the image gets the tested permissions",
  );
});

Deno.test("the bundle alone, in an empty directory with an empty DENO_DIR, prints its help", async () => {
  const { dir, denoDir, script } = await isolatedBundle();
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...OPERATOR_PERMISSIONS, script, "--help"],
      cwd: dir,
      env: { DENO_DIR: denoDir, NO_COLOR: "1" },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    assert.match(stdout, /--leader-elect, --enable-leader-election\s+HOSTPORT_LEADER_ELECT/);
    assert.match(stdout, /--webhook-cert-dir VALUE/);
    assert.deepEqual(await filesUnder(dir), [BUNDLE_NAME], "nothing was written beside the bundle");
    assert.deepEqual(
      (await filesUnder(denoDir)).filter((name) => name.startsWith("npm/")),
      [],
      "no npm package was fetched",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(denoDir, { recursive: true });
  }
});

Deno.test("the bundle carries zod's English messages only, not its other locales", async () => {
  const { dir, denoDir, script } = await isolatedBundle();
  try {
    const source = await Deno.readTextFile(script);
    assert.ok(
      source.includes("Invalid input: expected"),
      "the English messages the operator reports",
    );
    // One marker per locale would be brittle; the German messages stand for the 63 others, which
    // `import { z } from "zod"` (the namespace object holding `z.locales`) drags in.
    assert.ok(!source.includes("Eingabe: erwartet"), "zod's German locale is in the bundle");
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(denoDir, { recursive: true });
  }
});

Deno.test("the bundle alone starts against a real API server, gets ready, and stops on SIGTERM", async () => {
  const { dir, denoDir, script } = await isolatedBundle();
  try {
    await using cp = await startControlPlane();
    const tls = await cp.webhookTls();
    await using operator = OperatorProcess.start({
      kubeconfig: cp.kubeconfigPath,
      namespace: "default",
      certDir: await webhookCertDir(tls, cp.runDir),
      logPath: join(cp.runDir, "bundle.log"),
      args: ["--leader-elect=true"],
      script: { path: script, cwd: dir, env: { DENO_DIR: denoDir } },
    });
    await operator.waitReady();
    // Readiness does not wait for the Lease: poll /metrics until the bundle reports it leads.
    await eventually("the bundle's /metrics to report it holds the Lease", async () => {
      const metrics = await fetch(`${operator.metricsUrl}/metrics`);
      assert.equal(metrics.status, 200);
      const text = await metrics.text();
      return LEADING.test(text) ? true : undefined;
    }, 60_000);
    const status = await operator.stop();
    assert.equal(status.code, 0, await operator.logs());
    assert.deepEqual(await filesUnder(dir), [BUNDLE_NAME], "nothing was written beside the bundle");
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(denoDir, { recursive: true });
  }
});
