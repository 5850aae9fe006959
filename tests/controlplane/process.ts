/**
 * Child processes of the test control plane: each runs with its output in a log file, and each
 * has a watchdog that kills it once the owning Deno process is gone, however that process ended.
 *
 * @module
 */

/** How long a stopped process gets between SIGTERM and SIGKILL, by default. */
export const DEFAULT_STOP_GRACE_MS = 15_000;
/** The same for an orphan, whose data nobody will read: kube-apiserver may hang without etcd. */
export const DEFAULT_ORPHAN_GRACE_MS = 2_000;

// `exec` keeps the pid the binary's own, so signals and /proc reach the binary itself.
const EXEC_WITH_LOG = 'log=$1; shift; exec "$@" >>"$log" 2>&1';

// The watchdog blocks on its stdin, a pipe whose only writer is the owning Deno process. The pipe
// reaches EOF when that process exits for any reason (SIGKILL included) or releases the child.
// A parent-death signal would not do: it fires when the spawning *thread* exits, and Deno spawns
// from worker threads. The start time read from /proc guards against a reused pid.
const WATCHDOG = `
child=$1 ticks=$2
started() { local f; read -r -a f <"/proc/$child/stat" 2>/dev/null && [ "\${f[2]}" != Z ] && echo "\${f[21]}"; }
start=$(started) || exit 0
while read -r _; do :; done
alive() { [ "$(started)" = "$start" ]; }
alive || exit 0
kill -TERM "$child" 2>/dev/null
for ((i = 0; i < ticks; i++)); do alive || exit 0; sleep 0.1; done
kill -KILL "$child" 2>/dev/null
exit 0
`;

/** Where a managed process writes its output and which environment it gets. */
export interface SpawnOptions {
  /** File that receives stdout and stderr (appended). */
  logPath: string;
  /** Extra environment variables on top of the inherited ones. */
  env?: Record<string, string>;
  /** SIGTERM-to-SIGKILL grace the watchdog gives an orphaned child, in milliseconds. */
  orphanGraceMs?: number;
}

/** A running binary with its log file and its orphan watchdog. */
export class ManagedProcess {
  /** Short name used in messages, such as `etcd`. */
  readonly name: string;
  /** Process id of the binary itself. */
  readonly pid: number;
  /** File holding the binary's stdout and stderr. */
  readonly logPath: string;
  /** Resolves with the exit status once the binary has exited. */
  readonly exited: Promise<Deno.CommandStatus>;
  #child: Deno.ChildProcess;
  #watchdog: Deno.ChildProcess;
  #done = false;
  #stopping: Promise<void> | undefined;

  /** Wraps a spawned child and its watchdog; use {@linkcode spawnManaged}. */
  constructor(
    name: string,
    logPath: string,
    child: Deno.ChildProcess,
    watchdog: Deno.ChildProcess,
  ) {
    this.name = name;
    this.logPath = logPath;
    this.pid = child.pid;
    this.#child = child;
    this.#watchdog = watchdog;
    this.exited = child.status.then((status) => {
      this.#done = true;
      return status;
    });
    // Unreferenced, a forgotten process does not keep Deno alive; Deno's exit then lets the
    // watchdog clean up.
    child.unref();
    watchdog.unref();
  }

  /** Whether the binary is still running (as far as this process has observed). */
  get running(): boolean {
    return !this.#done;
  }

  /**
   * Stops the binary: SIGTERM, then SIGKILL after `graceMs`; then ends the watchdog.
   * Idempotent: later calls return the first call's promise.
   */
  stop(graceMs: number = DEFAULT_STOP_GRACE_MS): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    this.#child.ref();
    this.#watchdog.ref();
    if (!this.#done) {
      signal(this.#child, "SIGTERM");
      const timer = setTimeout(() => signal(this.#child, "SIGKILL"), graceMs);
      try {
        await this.exited;
      } finally {
        clearTimeout(timer);
      }
    }
    await this.#watchdog.stdin.close().catch(() => {});
    await this.#watchdog.status;
  }
}

function signal(child: Deno.ChildProcess, name: Deno.Signal): void {
  try {
    child.kill(name);
  } catch {
    // The child has already exited; nothing to signal.
  }
}

/**
 * Starts `binary` with `args`, its output appended to `options.logPath`, plus a watchdog that
 * kills it once this Deno process is gone.
 */
export function spawnManaged(
  name: string,
  binary: string,
  args: readonly string[],
  options: SpawnOptions,
): ManagedProcess {
  const child = new Deno.Command("bash", {
    args: ["-c", EXEC_WITH_LOG, name, options.logPath, binary, ...args],
    env: options.env ?? {},
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const ticks = Math.ceil((options.orphanGraceMs ?? DEFAULT_ORPHAN_GRACE_MS) / 100);
  const watchdog = new Deno.Command("bash", {
    // $0 names the log, so a scan for the run dir also finds the watchdog.
    args: [
      "-c",
      WATCHDOG,
      `controlplane-watchdog ${options.logPath}`,
      String(child.pid),
      `${ticks}`,
    ],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  return new ManagedProcess(name, options.logPath, child, watchdog);
}

/** Returns the ids of live processes (not this one) whose command line contains `marker`. */
export function processesMentioning(marker: string): number[] {
  const found: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
    try {
      // A zombie's cmdline reads empty, so only processes that still run match.
      if (Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).includes(marker)) {
        found.push(Number(entry.name));
      }
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/** Returns the resident set size of process `pid` in KiB, or undefined if it is gone. */
export function residentKiB(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
    return match?.[1] === undefined ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

/** Returns the last `maxBytes` of a text file (or a note when it cannot be read). */
export async function tailFile(path: string, maxBytes = 4000): Promise<string> {
  try {
    using file = await Deno.open(path);
    const size = (await file.stat()).size;
    await file.seek(Math.max(0, size - maxBytes), Deno.SeekMode.Start);
    const chunk = new Uint8Array(Math.min(size, maxBytes));
    let read = 0;
    while (read < chunk.length) {
      const n = await file.read(chunk.subarray(read));
      if (n === null) break;
      read += n;
    }
    return new TextDecoder().decode(chunk.subarray(0, read));
  } catch (error) {
    return `(cannot read ${path}: ${error instanceof Error ? error.message : String(error)})`;
  }
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    return listener.addr.port;
  } finally {
    listener.close();
  }
}

/** Output of one finished command. */
export interface CapturedRun {
  /** Exit code (127 when the command does not exist). */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/**
 * Runs `command` with `args` to its end and collects its output; `stdin` is fed to it, `env` adds
 * to the environment. A missing command gives code 127 with a message, as a shell would.
 */
export async function runCaptured(
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string>; stdin?: string } = {},
): Promise<CapturedRun> {
  try {
    const child = new Deno.Command(command, {
      args: [...args],
      env: options.env ?? {},
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(options.stdin));
      await writer.close();
    }
    const out = await child.output();
    const text = new TextDecoder();
    return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    return { code: 127, stdout: "", stderr: `${command}: command not found` };
  }
}
