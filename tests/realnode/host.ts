/**
 * The host side of the real-node tier: what it needs installed (root, Debian packages), the
 * snapshot of everything a node changes on the machine, and the sweep that puts the machine back
 * to its snapshot: after a clean stop, and at the next start after a crash (the snapshot taken
 * before the node is kept in {@linkcode STATE_DIR}).
 *
 * @module
 */
import { join } from "node:path";
import { type CapturedRun, processesMentioning, runCaptured } from "../controlplane/process.ts";
import {
  BRIDGE,
  CONTAINERD_SOCKET,
  HOST_PATHS,
  NODE_DIR,
  PACKAGES,
  POD_CIDR,
  RUN_DIR,
  SERVICE_CIDR,
  STATE_DIR,
} from "./config.ts";

/** Output of one command. */
export type RunResult = CapturedRun;

/** Runs `command` with `args` and collects its output; a missing binary gives code 127. */
export const run = runCaptured;

/** Runs a command that must succeed; throws with its output otherwise. */
export async function must(command: string, args: readonly string[]): Promise<string> {
  const result = await run(command, args);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} failed with code ${result.code}: ${result.stderr.trim()}`,
    );
  }
  return result.stdout;
}

/**
 * Makes sure the node can run here: root, and the Debian packages of {@linkcode PACKAGES},
 * installed with apt-get when missing (quiet when they are all present).
 *
 * @throws {Error} without root or without apt-get, or when the install fails
 */
export async function ensureHost(log: (line: string) => void): Promise<void> {
  if (Deno.uid() !== 0) {
    throw new Error(
      "The real-node tier needs root: it runs a kubelet, containerd and iptables rules",
    );
  }
  const missing = Object.entries(PACKAGES).filter(([, binary]) => !isExecutable(binary))
    .map(([name]) => name);
  if (missing.length === 0) return;
  if ((await run("apt-get", ["--version"])).code !== 0) {
    throw new Error(
      `The real-node tier needs the Debian packages ${missing.join(", ")} and apt-get to ` +
        "install them; neither is here",
    );
  }
  log(`installing ${missing.join(" ")} with apt-get`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  for (
    const args of [
      ["update", "-qq"],
      ["install", "-y", "-qq", "--no-install-recommends", ...missing],
    ]
  ) {
    const result = await run("apt-get", args, { env });
    if (result.code !== 0) {
      throw new Error(
        `Cannot install ${missing.join(", ")}: apt-get ${args[0]} failed: ` +
          result.stderr.trim(),
      );
    }
  }
  const still = Object.entries(PACKAGES).filter(([, binary]) => !isExecutable(binary));
  if (still.length > 0) {
    throw new Error(`apt-get installed no ${still.map(([, b]) => b).join(", ")}`);
  }
}

function isExecutable(path: string): boolean {
  try {
    return ((Deno.statSync(path).mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// The snapshot

/** What a node may change on the host, each as sorted lines (sysctls as `key = value`). */
export interface Snapshot {
  /** Kernel settings (volatile counters left out). */
  sysctl: string[];
  /** Network links: name and flags. */
  links: string[];
  /** Addresses: link, family, address. */
  addresses: string[];
  /** IPv4 routes. */
  routes: string[];
  /** `nft list ruleset` (iptables-nft's rules included). */
  nft: string[];
  /** Mount points and file systems. */
  mounts: string[];
  /** cgroup directories: each hierarchy's top level, and everything under `kubepods`. */
  cgroups: string[];
  /** Which of {@linkcode HOST_PATHS} exist. */
  paths: string[];
  /** Processes of a node: its binaries, containerd's shims, pods' processes. */
  processes: string[];
}

// Counters and other values that change by themselves, and per-interface keys of links that
// come and go with the node (the links themselves are compared).
const VOLATILE_SYSCTL =
  /random|_stat|\.inode|dentry|nr_|file-nr|ns_last_pid|perf_event|fs\.quota|tainted|nf_conntrack_count|pty\.nr|sched_domain|vm\.stat|timer_migration|hung_task|kernel\.(msg|sem|shm)|^net\.(ipv4|ipv6)\.(conf|neigh)\.(veth|k8sbr|cni)/;

/** Takes a snapshot of the host. */
export async function takeSnapshot(): Promise<Snapshot> {
  const lines = (text: string) => text.split("\n").map((l) => l.trimEnd()).filter((l) => l);
  const sorted = (items: string[]) => [...new Set(items)].sort();
  const sysctl = (await run("sysctl", ["-a"])).stdout;
  const links = (await run("ip", ["-o", "link"])).stdout;
  const addresses = (await run("ip", ["-o", "addr"])).stdout;
  const routes = (await run("ip", ["route"])).stdout;
  const nft = await run("nft", ["list", "ruleset"]);
  return {
    sysctl: sorted(lines(sysctl).filter((l) => !VOLATILE_SYSCTL.test(l))),
    links: sorted(
      lines(links).map((l) => l.replace(/^\d+: /, "").split(/\s+/).slice(0, 2).join(" ")),
    ),
    addresses: sorted(lines(addresses).map((l) => l.split(/\s+/).slice(1, 4).join(" "))),
    routes: sorted(lines(routes)),
    // Without nft (not installed yet) the ruleset reads as empty, as it is.
    nft: nft.code === 0 ? lines(nft.stdout) : [],
    mounts: sorted(
      lines(await Deno.readTextFile("/proc/self/mounts")).map((l) =>
        l.split(" ").slice(1, 3).join(" ")
      ),
    ),
    cgroups: sorted(cgroupDirs()),
    paths: HOST_PATHS.filter(exists),
    processes: sorted(nodeProcesses().map((pid) => `${pid} ${commandLine(pid)}`)),
  };
}

/** Returns the differences between two snapshots, one line each (empty: the same). */
export function compareSnapshots(before: Snapshot, after: Snapshot): string[] {
  const differences: string[] = [];
  for (const key of Object.keys(before) as (keyof Snapshot)[]) {
    const was = new Set(before[key]);
    const is = new Set(after[key]);
    for (const line of before[key]) if (!is.has(line)) differences.push(`${key}: - ${line}`);
    for (const line of after[key]) if (!was.has(line)) differences.push(`${key}: + ${line}`);
  }
  return differences;
}

// Below the top level only the node's own cgroups count: other cgroups come and go with the
// machine's other work (such as the VM agent's per-command cgroups).
function cgroupDirs(): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number, ours: boolean) => {
    try {
      for (const entry of Deno.readDirSync(dir)) {
        if (!entry.isDirectory) continue;
        const path = join(dir, entry.name);
        const inNode = ours || entry.name === "kubepods";
        if (depth === 2 || inNode) found.push(path);
        if (depth === 1 || inNode || (depth === 2 && !ours)) walk(path, depth + 1, inNode);
      }
    } catch {
      // A cgroup vanished while we looked.
    }
  };
  walk("/sys/fs/cgroup", 1, false);
  return found;
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function commandLine(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ").trim().slice(0, 120);
  } catch {
    return "";
  }
}

/** The pods' cgroup directories, one per v1 hierarchy (or the v2 one). */
export function podCgroupRoots(): string[] {
  const roots: string[] = [];
  try {
    for (const entry of Deno.readDirSync("/sys/fs/cgroup")) {
      const root = `/sys/fs/cgroup/${entry.name}/kubepods`;
      if (exists(root)) roots.push(root);
    }
  } catch {
    // No cgroup file system.
  }
  if (exists("/sys/fs/cgroup/kubepods")) roots.push("/sys/fs/cgroup/kubepods");
  return roots;
}

function podProcesses(): number[] {
  const pids = new Set<number>();
  const walk = (dir: string) => {
    try {
      for (const line of Deno.readTextFileSync(join(dir, "cgroup.procs")).split("\n")) {
        if (line.trim() !== "") pids.add(Number(line));
      }
      for (const entry of Deno.readDirSync(dir)) if (entry.isDirectory) walk(join(dir, entry.name));
    } catch {
      // Gone while we looked.
    }
  };
  for (const root of podCgroupRoots()) walk(root);
  return [...pids];
}

/** The processes of a node: everything naming its directory or socket, and pods' processes. */
export function nodeProcesses(): number[] {
  return [
    ...new Set([
      ...processesMentioning(`${NODE_DIR}/`),
      ...processesMentioning(CONTAINERD_SOCKET),
      ...podProcesses(),
    ]),
  ].filter((pid) => pid !== Deno.pid).sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------
// The sweep

const BEFORE_FILE = join(STATE_DIR, "before.json");

/** Saves the snapshot taken before the node, for the sweep (also after a crash). */
export async function saveBefore(snapshot: Snapshot): Promise<void> {
  await Deno.mkdir(STATE_DIR, { recursive: true });
  await Deno.writeTextFile(BEFORE_FILE, JSON.stringify(snapshot));
}

/** The saved snapshot, if a node was started and not swept yet. */
export async function loadBefore(): Promise<Snapshot | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(BEFORE_FILE)) as Snapshot;
  } catch {
    return undefined;
  }
}

/**
 * Puts the host back to the saved snapshot: kills what is left of a node's processes, unmounts,
 * removes network namespaces, veths, the bridge, our iptables chains and the nft tables that
 * were not there, flushes the node's conntrack entries, restores sysctls, removes the pods'
 * cgroups and the paths that were not there. Idempotent; without a saved snapshot it does what
 * needs none. Returns what it did (empty when there was nothing to do).
 */
export async function sweep(): Promise<string[]> {
  const did: string[] = [];
  const before = await loadBefore();
  for (let round = 0; round < 20; round++) {
    const pids = nodeProcesses();
    if (pids.length === 0) break;
    for (const pid of pids) {
      if (round === 0) did.push(`killed ${pid} ${commandLine(pid)}`);
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // Mounts: the kubelet's bind mount of its root, pods' volumes, rootfs overlays, shm, network
  // namespaces; deepest first.
  const mounts = (await Deno.readTextFile("/proc/self/mounts")).split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .map((path) => path.replaceAll("\\040", " "))
    .filter((path) =>
      path.startsWith(`${NODE_DIR}/`) || path.startsWith(`${RUN_DIR}/`) ||
      path.startsWith("/run/netns/cni-")
    );
  for (const mount of [...new Set(mounts)].sort().reverse()) {
    if ((await run("umount", [mount])).code !== 0) await run("umount", ["-l", mount]);
    did.push(`unmounted ${mount}`);
  }
  try {
    for (const entry of Deno.readDirSync("/run/netns")) {
      if (entry.name.startsWith("cni-")) {
        await Deno.remove(`/run/netns/${entry.name}`).catch(() => {});
        did.push(`removed /run/netns/${entry.name}`);
      }
    }
  } catch {
    // No /run/netns.
  }
  if ((await run("ip", ["link", "show", BRIDGE])).code === 0) {
    const members = (await run("ip", ["-o", "link", "show", "master", BRIDGE])).stdout;
    for (const line of members.split("\n")) {
      const name = line.split(": ")[1]?.split("@")[0];
      if (name) await run("ip", ["link", "del", name]);
    }
    await run("ip", ["link", "del", BRIDGE]);
    did.push(`deleted bridge ${BRIDGE}`);
  }
  did.push(...await sweepFirewall(before));
  did.push(...await restoreSysctls(before));
  for (const root of podCgroupRoots()) {
    await removeCgroup(root);
    did.push(`removed cgroup ${root}`);
  }
  for (const path of HOST_PATHS) {
    if (!exists(path) || (before !== undefined && before.paths.includes(path))) continue;
    if (before === undefined && path !== RUN_DIR) continue; // unknown whether it was ours
    await Deno.remove(path, { recursive: true }).catch(() => {});
    did.push(`removed ${path}`);
  }
  await Deno.remove(BEFORE_FILE).catch(() => {});
  return did;
}

const OUR_CHAINS = /^(KUBE-|CNI-|K8S-NODE-)/;

async function sweepFirewall(before: Snapshot | undefined): Promise<string[]> {
  const did: string[] = [];
  for (const iptables of ["iptables", "ip6tables"]) {
    for (const table of ["filter", "nat", "mangle", "raw"]) {
      const listed = await run(iptables, ["-t", table, "-S"]);
      if (listed.code !== 0) continue;
      const rules = listed.stdout.split("\n");
      // Rules of other chains that jump to ours, then our chains' rules, then our chains.
      for (const rule of rules) {
        const words = rule.split(" ");
        const jump = words[words.indexOf("-j") + 1] ?? "";
        if (words[0] !== "-A" || OUR_CHAINS.test(words[1] ?? "") || !OUR_CHAINS.test(jump)) {
          continue;
        }
        // iptables -S quotes comments; our rules' words carry no spaces otherwise.
        const args = splitRule(rule.slice(3));
        await run(iptables, ["-t", table, "-D", ...args]);
        did.push(`${iptables} -t ${table} -D ${rule.slice(3)}`);
      }
      const chains = rules.filter((r) => r.startsWith("-N ")).map((r) => r.slice(3))
        .filter((c) => OUR_CHAINS.test(c));
      for (const chain of chains) await run(iptables, ["-t", table, "-F", chain]);
      for (const chain of chains) {
        await run(iptables, ["-t", table, "-X", chain]);
        did.push(`${iptables} -t ${table} -X ${chain}`);
      }
    }
  }
  // Tables that iptables-nft and kube-proxy made: drop those the machine did not have.
  const hadTables = new Set((before?.nft ?? []).filter((l) => l.startsWith("table ")));
  const now = await run("nft", ["list", "tables"]);
  for (const line of now.stdout.split("\n").map((l) => l.trim()).filter((l) => l)) {
    const [, family, name] = line.split(" ");
    if (family === undefined || name === undefined) continue;
    const ours = name === "kube-proxy" || (before !== undefined && !hadTables.has(`${line} {`));
    if (!ours) continue;
    await run("nft", ["delete", "table", family, name]);
    did.push(`nft delete table ${family} ${name}`);
  }
  for (const filter of [["-s", POD_CIDR], ["-d", POD_CIDR], ["-d", SERVICE_CIDR]]) {
    await run("conntrack", ["-D", ...filter]);
  }
  return did;
}

function splitRule(rule: string): string[] {
  const words: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (const match of rule.matchAll(pattern)) words.push(match[1] ?? match[2] ?? "");
  return words;
}

async function restoreSysctls(before: Snapshot | undefined): Promise<string[]> {
  if (before === undefined) return [];
  const did: string[] = [];
  const split = (line: string) => {
    const at = line.indexOf(" = ");
    return [line.slice(0, at), line.slice(at + 3)] as const;
  };
  const wanted = new Map(before.sysctl.map(split));
  // Two rounds: turning ip_forward off resets the per-interface forwarding keys with it.
  for (const key of ["net.ipv4.ip_forward", undefined]) {
    const now = new Map((await takeSnapshot()).sysctl.map(split));
    for (const [name, have] of now) {
      const want = wanted.get(name);
      if (want === undefined || want === have || (key !== undefined && name !== key)) continue;
      const result = await run("sysctl", ["-q", "-w", `${name}=${want}`]);
      did.push(`sysctl ${name}: ${have} -> ${want}${result.code === 0 ? "" : " (failed)"}`);
    }
  }
  return did;
}

async function removeCgroup(dir: string): Promise<void> {
  try {
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.isDirectory) await removeCgroup(join(dir, entry.name));
    }
    await Deno.remove(dir);
  } catch {
    // Busy or gone: the snapshot check reports what stays.
  }
}
