/**
 * The node's container images, made with no container tool and no registry: each is a
 * `docker save`-style archive (manifest.json, a config, one layer tar) written here and imported
 * with `ctr images import`. Three images:
 *
 * - the pause image (sandbox), a static Go program (`images/pause`);
 * - `registry.k8s.io/e2e-test-images/agnhost:2.53`, a LOCAL STAND-IN (`images/agnhost`) that
 *   understands only `netexec --http-port=N` (with its `/exit`), so
 *   `deploy/examples/pod-echo.yaml` runs unmodified;
 * - the operator under the release's own tag: the pinned deno binary running the `deno task
 *   bundle` file with the Dockerfile's permission and V8 flags, as non-root 65532 (`deno compile`
 *   cannot run here: it downloads its runtime).
 *
 * @module
 */
import { basename, join } from "node:path";
import { parseAllDocuments } from "yaml";
import { AGNHOST_IMAGE, PAUSE_IMAGE, REPO_DIR } from "./config.ts";
import { must } from "./host.ts";

/** One entry of an image's file system. */
export type LayerEntry =
  | { path: string; type: "dir"; mode: number }
  | { path: string; type: "file"; mode: number; data: Uint8Array }
  | { path: string; type: "symlink"; target: string };

/** What an image runs, and its file system. */
export interface ImageSpec {
  /** Names the image is imported under. */
  tags: string[];
  /** The file system, in order (parents before children). */
  entries: LayerEntry[];
  /** `Entrypoint` of the config. */
  entrypoint: string[];
  /** Extra environment (`KEY=value`). */
  env?: string[];
  /** `User` of the config, `uid:gid`. */
  user?: string;
}

const BLOCK = 512;
const encoder = new TextEncoder();

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0");
}

function tarHeader(
  name: string,
  options: { mode: number; size: number; type: string; linkname?: string },
): Uint8Array {
  const header = new Uint8Array(BLOCK);
  const put = (offset: number, text: string) => header.set(encoder.encode(text), offset);
  let prefix = "";
  if (name.length > 100) {
    const cut = name.lastIndexOf("/", 155);
    if (cut <= 0 || name.length - cut - 1 > 100) throw new Error(`Path too long for tar: ${name}`);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
  }
  put(0, name);
  put(100, octal(options.mode, 8));
  put(108, octal(0, 8));
  put(116, octal(0, 8));
  put(124, octal(options.size, 12));
  put(136, octal(0, 12));
  put(148, "        ");
  put(156, options.type);
  put(157, options.linkname ?? "");
  put(257, "ustar\u000000");
  put(345, prefix);
  const sum = header.reduce((a, b) => a + b, 0);
  put(148, `${octal(sum, 7)}\u0000 `);
  return header;
}

/** Writes a tar archive (ustar, owner root, mtime 0) of `entries`. */
export function tar(entries: LayerEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const entry of entries) {
    const path = entry.path.replace(/^\/+/, "");
    if (entry.type === "dir") {
      parts.push(tarHeader(`${path}/`, { mode: entry.mode, size: 0, type: "5" }));
    } else if (entry.type === "symlink") {
      parts.push(tarHeader(path, { mode: 0o777, size: 0, type: "2", linkname: entry.target }));
    } else {
      parts.push(tarHeader(path, { mode: entry.mode, size: entry.data.length, type: "0" }));
      parts.push(entry.data);
      const pad = (BLOCK - (entry.data.length % BLOCK)) % BLOCK;
      if (pad > 0) parts.push(new Uint8Array(pad));
    }
  }
  parts.push(new Uint8Array(2 * BLOCK));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

async function sha256(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>),
  );
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Returns the `docker save`-style archive of `spec`, which `ctr images import` reads. */
export async function imageArchive(spec: ImageSpec): Promise<Uint8Array> {
  const layer = tar(spec.entries);
  const layerDigest = await sha256(layer);
  const arch = Deno.build.arch === "aarch64" ? "arm64" : "amd64";
  const config = encoder.encode(JSON.stringify({
    architecture: arch,
    os: "linux",
    created: "1970-01-01T00:00:00Z",
    config: {
      Env: ["PATH=/usr/local/bin:/usr/bin:/bin", ...(spec.env ?? [])],
      Entrypoint: spec.entrypoint,
      User: spec.user ?? "",
      WorkingDir: "/",
      Labels: { "built-by": "hostport-allocator tests/realnode/images.ts" },
    },
    rootfs: { type: "layers", diff_ids: [`sha256:${layerDigest}`] },
    history: [{ created: "1970-01-01T00:00:00Z", created_by: "tests/realnode/images.ts" }],
  }));
  const configDigest = await sha256(config);
  const manifest = encoder.encode(JSON.stringify([{
    Config: `${configDigest}.json`,
    RepoTags: spec.tags,
    Layers: [`${layerDigest}/layer.tar`],
  }]));
  return tar([
    { path: `${configDigest}.json`, type: "file", mode: 0o644, data: config },
    { path: layerDigest, type: "dir", mode: 0o755 },
    { path: `${layerDigest}/layer.tar`, type: "file", mode: 0o644, data: layer },
    { path: "manifest.json", type: "file", mode: 0o644, data: manifest },
  ]);
}

/** The image of `deploy/release.yaml`'s Deployment: the release's own tag. */
export async function releaseImage(): Promise<string> {
  const text = await Deno.readTextFile(join(REPO_DIR, "deploy/release.yaml"));
  for (const doc of parseAllDocuments(text)) {
    const object = doc.toJS() as {
      kind?: string;
      spec?: { template?: { spec?: { containers?: { image?: string }[] } } };
    } | null;
    const image = object?.kind === "Deployment"
      ? object.spec?.template?.spec?.containers?.[0]?.image
      : undefined;
    if (image !== undefined) return image;
  }
  throw new Error("deploy/release.yaml has no Deployment with an image");
}

/**
 * The permission and V8 flags of the Dockerfile's `deno compile` (what the image's executable
 * runs with), read from the Dockerfile so the two cannot drift.
 */
export async function dockerfileDenoFlags(): Promise<string[]> {
  const text = await Deno.readTextFile(join(REPO_DIR, "Dockerfile"));
  const compile = text.slice(text.lastIndexOf("deno compile"));
  const command = compile.slice(0, compile.indexOf(" -o "));
  const flags = command.split(/\s+/).filter((w) => /^--(allow-|v8-flags=)/.test(w));
  if (flags.length === 0) throw new Error("The Dockerfile's deno compile has no flags to read");
  return flags;
}

const DIR = (path: string, mode = 0o755): LayerEntry => ({ path, type: "dir", mode });

async function file(path: string, source: string, mode = 0o755): Promise<LayerEntry> {
  return { path, type: "file", mode, data: await Deno.readFile(source) };
}

function text(path: string, contents: string): LayerEntry {
  return { path, type: "file", mode: 0o644, data: encoder.encode(contents) };
}

/** The shared libraries `ldd` lists for `binary`, with the paths the loader opens. */
async function sharedLibraries(binary: string): Promise<string[]> {
  const out = await must("ldd", [binary]);
  return [...out.matchAll(/(\/\S+)/g)].map((m) => m[1] ?? "").filter((p) => p !== "");
}

async function withParents(paths: string[]): Promise<LayerEntry[]> {
  const dirs = new Set<string>();
  for (const path of paths) {
    const parts = path.split("/").filter((p) => p);
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  const entries: LayerEntry[] = [...dirs].sort().map((d) => DIR(d));
  for (const path of paths) entries.push(await file(path, await Deno.realPath(path)));
  return entries;
}

/** The three image specs; `programs` holds build.sh's `pause` and `agnhost`. */
export async function imageSpecs(programs: string, bundle: string): Promise<ImageSpec[]> {
  const deno = Deno.execPath();
  const passwd = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532::/tmp:/sbin/nologin\n";
  return [
    {
      tags: [PAUSE_IMAGE],
      entries: [await file("pause", join(programs, "pause"))],
      entrypoint: ["/pause"],
      user: "65535:65535",
    },
    {
      tags: [AGNHOST_IMAGE],
      entries: [await file("agnhost", join(programs, "agnhost"))],
      entrypoint: ["/agnhost"],
      user: "65534:65534",
    },
    {
      tags: [await releaseImage()],
      entries: [
        DIR("tmp", 0o1777),
        DIR("etc"),
        text("etc/passwd", passwd),
        text("etc/group", "root:x:0:\nnonroot:x:65532:\n"),
        await file("deno", deno),
        await file("hostport-allocator.js", bundle, 0o644),
        ...await withParents(await sharedLibraries(deno)),
      ],
      // --cached-only, --no-config and --no-lock: deno looks for nothing beyond the bundle.
      entrypoint: [
        "/deno",
        "run",
        "--no-config",
        "--no-lock",
        "--cached-only",
        ...await dockerfileDenoFlags(),
        "/hostport-allocator.js",
      ],
      // The root file system is read-only: deno's cache dir is on the pod's /tmp emptyDir.
      env: ["DENO_DIR=/tmp/deno", "HOME=/tmp", "NO_COLOR=1", "DENO_NO_UPDATE_CHECK=1"],
      user: "65532:65532",
    },
  ];
}

/** Writes the three archives into `dir` and returns their paths. */
export async function writeImages(
  dir: string,
  programs: string,
  bundle: string,
): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const paths: string[] = [];
  for (const spec of await imageSpecs(programs, bundle)) {
    const name = basename(spec.tags[0]?.split(":")[0] ?? "image");
    const path = join(dir, `${name}.tar`);
    await Deno.writeFile(path, await imageArchive(spec));
    paths.push(path);
  }
  return paths;
}
