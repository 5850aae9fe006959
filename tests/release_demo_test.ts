/**
 * `deno task demo`, the README's "run it" command, as a user runs it: it plays the quickstart,
 * prints the claim Bound with its port, the pod's hostPort and annotation and the listing,
 * exits 0, and leaves no process behind.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { processesMentioning } from "./controlplane/process.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

Deno.test("deno task demo plays the quickstart, prints what a user should see, and cleans up", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["task", "demo"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, `${stdout}\n${stderr}`);

  assert.match(stdout, /^\$ kubectl label namespace default hostport\.rmb938\.com=true$/m);
  assert.match(stdout, /^namespace\/default labeled$/m);
  assert.match(stdout, /^pod\/echo created$/m);
  const bound =
    /^HostPortClaim default\/echo-web is Bound with port (\d+) \(HostPort (hpc-[-0-9a-f]+)\)$/m
      .exec(stdout);
  assert.ok(bound, stdout);
  const [, port, hostPort] = bound as unknown as [string, string, string];
  assert.equal(port, "9000", "the first port of the first pool of class sample");
  assert.match(
    stdout,
    new RegExp(`^Pod default/echo has hostPort ${port} on its port "web"$`, "m"),
  );
  assert.match(
    stdout,
    new RegExp(`^Pod default/echo has annotation port\\.hostport\\.rmb938\\.com/web=${port}$`, "m"),
  );
  const listing = stdout.slice(
    stdout.indexOf("$ kubectl get hostportclasses,hostportclaims,hostports"),
  );
  assert.match(listing, /^hostportclass\.hostport\.rmb938\.com\/sample\s/m);
  assert.match(
    listing,
    new RegExp(
      `^hostportclaim\\.hostport\\.rmb938\\.com/echo-web\\s+Bound\\s+sample\\s+${hostPort}\\s+${port}\\s`,
      "m",
    ),
  );
  assert.match(
    listing,
    new RegExp(
      `^hostport\\.hostport\\.rmb938\\.com/${hostPort}\\s+sample\\s+Allocated\\s+${port}\\s`,
      "m",
    ),
  );

  // The per-pod example: three StatefulSet pods, each with its own claim and a distinct port.
  const perPod = [...stdout.matchAll(
    /^Pod default\/(game-\d) has claim game-port-(game-\d) and hostPort (\d+)$/gm,
  )];
  assert.deepEqual(perPod.map((m) => m[1]), ["game-0", "game-1", "game-2"], stdout);
  assert.ok(perPod.every((m) => m[1] === m[2]), "pod game-N uses the claim game-port-game-N");
  assert.equal(new Set(perPod.map((m) => m[3])).size, 3, "three distinct ports");
  assert.match(stdout, /^statefulset\.apps "game" deleted/m);
  assert.match(stdout, /^hostportclaim\.hostport\.rmb938\.com "echo-web" deleted/m);
  assert.match(stdout, /^operator exited with code 0$/m);
  assert.match(stdout, /^Done: every process the demo started has stopped\.$/m);
  const runDir = /logs in (\/\S+)\/operator\.log/.exec(stdout)?.[1];
  assert.ok(runDir, "the demo names its run directory");
  assert.deepEqual(processesMentioning(runDir), [], "no process of the demo is left");
});
