import assert from "node:assert/strict";
import { join } from "node:path";
import { RELEASE_VERSION } from "../../scripts/gen_release_names.ts";
import { dockerfileDenoFlags, imageArchive, releaseImage } from "./images.ts";

async function untar(archive: Uint8Array, dir: string): Promise<void> {
  const path = join(dir, "archive.tar");
  await Deno.writeFile(path, archive);
  const out = await new Deno.Command("tar", { args: ["-xf", path, "-C", dir] }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  await Deno.remove(path);
}

Deno.test("imageArchive writes a docker-save archive whose layer GNU tar reads back", async () => {
  const dir = await Deno.makeTempDir({ prefix: "realnode-image-" });
  try {
    const long = `${"d".repeat(60)}/${"e".repeat(60)}/file`; // beyond ustar's 100-byte name
    const archive = await imageArchive({
      tags: ["localhost/test:1", "example.org/test:1"],
      entries: [
        { path: "tmp", type: "dir", mode: 0o1777 },
        { path: "bin", type: "dir", mode: 0o755 },
        { path: "bin/run", type: "file", mode: 0o755, data: new TextEncoder().encode("#!x\n") },
        { path: "bin/sh", type: "symlink", target: "run" },
        { path: long.split("/").slice(0, 1).join("/"), type: "dir", mode: 0o755 },
        { path: long.split("/").slice(0, 2).join("/"), type: "dir", mode: 0o755 },
        { path: long, type: "file", mode: 0o644, data: new Uint8Array(1000).fill(7) },
      ],
      entrypoint: ["/bin/run"],
      user: "65532:65532",
    });
    await untar(archive, dir);
    const [manifest] = JSON.parse(await Deno.readTextFile(join(dir, "manifest.json")));
    assert.deepEqual(manifest.RepoTags, ["localhost/test:1", "example.org/test:1"]);
    const config = JSON.parse(await Deno.readTextFile(join(dir, manifest.Config)));
    assert.deepEqual(config.config.Entrypoint, ["/bin/run"]);
    assert.equal(config.config.User, "65532:65532");
    const layerBytes = await Deno.readFile(join(dir, manifest.Layers[0]));
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", layerBytes));
    const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
    assert.deepEqual(config.rootfs.diff_ids, [`sha256:${hex}`]);

    const rootfs = join(dir, "rootfs");
    await Deno.mkdir(rootfs);
    await untar(layerBytes, rootfs);
    assert.equal(await Deno.readTextFile(join(rootfs, "bin/run")), "#!x\n");
    assert.equal(((await Deno.stat(join(rootfs, "bin/run"))).mode ?? 0) & 0o777, 0o755);
    assert.equal(await Deno.readLink(join(rootfs, "bin/sh")), "run");
    assert.deepEqual(await Deno.readFile(join(rootfs, long)), new Uint8Array(1000).fill(7));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the operator image runs the release's tag with the Dockerfile's flags", async () => {
  assert.equal(await releaseImage(), `localhost/hostport-allocator:${RELEASE_VERSION}`);
  assert.deepEqual(await dockerfileDenoFlags(), [
    "--allow-net",
    "--allow-read",
    "--allow-env",
    "--allow-sys=hostname",
    "--v8-flags=--max-old-space-size=384,--max-semi-space-size=2",
  ]);
});
