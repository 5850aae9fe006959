/**
 * Polling with a deadline, failing early (with the log tail) when the watched process exits.
 *
 * @module
 */
import { ControlPlaneError } from "./errors.ts";
import { type ManagedProcess, tailFile } from "./process.ts";

/** What to wait for and for how long. */
export interface WaitOptions {
  /** Phrase for messages, such as `kube-apiserver to become ready`. */
  what: string;
  /** Deadline in milliseconds. */
  timeoutMs: number;
  /** Pause between checks in milliseconds; 200 by default. */
  intervalMs?: number;
  /** The process whose exit makes further waiting pointless, and whose log the error shows. */
  process?: ManagedProcess;
}

async function failure(message: string, process: ManagedProcess | undefined): Promise<never> {
  if (process === undefined) throw new ControlPlaneError(message);
  const tail = await tailFile(process.logPath);
  throw new ControlPlaneError(`${message}; last lines of ${process.logPath}:\n${tail}`);
}

/**
 * Calls `check` until it resolves true.
 *
 * @throws {ControlPlaneError} on timeout or when `options.process` exits first
 */
export async function waitUntil(
  check: () => Promise<boolean>,
  options: WaitOptions,
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const process = options.process;
  while (true) {
    if (process !== undefined && !process.running) {
      const status = await process.exited;
      await failure(
        `${process.name} exited with code ${status.code} while waiting for ${options.what}`,
        process,
      );
    }
    if (await check()) return;
    if (Date.now() >= deadline) {
      await failure(`Timed out after ${options.timeoutMs} ms waiting for ${options.what}`, process);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 200));
  }
}
