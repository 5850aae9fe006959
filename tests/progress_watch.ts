/**
 * `ProgressWatch`: follows one kind with a list and a watch, and remembers when each object was
 * first seen matching a predicate (a claim `Bound`, a HostPort holding a port), so a test can
 * wait for "N done" and a benchmark can time each object.
 *
 * @module
 */
import type { HostPort, HostPortClaim } from "../lib/api/mod.ts";
import {
  GoneError,
  type KubeClients,
  type KubeObject,
  type ResourceClient,
} from "../lib/kube/mod.ts";

/** Thrown when the watched count is not reached in time. */
export class ProgressTimeoutError extends Error {
  override name = "ProgressTimeoutError";
}

/** What to follow. */
export interface ProgressWatchOptions<T extends KubeObject> {
  /** The kind's client. */
  client: ResourceClient<T>;
  /** Only this namespace (namespaced kinds); every object otherwise. */
  namespace?: string;
  /** Says what "done" means, for messages: `Bound claims`. */
  what: string;
  /** Whether an object is done. */
  done: (object: T) => boolean;
}

/** Follows objects and the moments they were first seen done (`performance.now()`). */
export class ProgressWatch<T extends KubeObject> {
  /** When each object (by namespace/name) was first seen done. */
  readonly doneAt: Map<string, number> = new Map();
  readonly #options: ProgressWatchOptions<T>;
  readonly #abort = new AbortController();
  readonly #waiters = new Set<() => void>();
  #error: unknown;
  readonly #following: Promise<void>;

  /** Starts following at once. */
  constructor(options: ProgressWatchOptions<T>) {
    this.#options = options;
    this.#following = this.#follow().catch((error) => {
      if (!this.#abort.signal.aborted) this.#error = error;
    }).finally(() => this.#notify());
  }

  /** How many objects have been seen done. */
  get count(): number {
    return this.doneAt.size;
  }

  /**
   * Resolves once at least `count` objects have been seen done.
   *
   * @throws {ProgressTimeoutError} after `timeoutMs`, with the count seen and `describe()`
   * @throws the watch's error when it failed for good
   */
  async waitFor(count: number, timeoutMs: number, describe?: () => Promise<string>): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.count < count) {
      if (this.#error !== undefined) throw this.#error;
      const left = deadline - performance.now();
      if (left <= 0) {
        const detail = describe ? `; ${await describe().catch(String)}` : "";
        throw new ProgressTimeoutError(
          `Timed out after ${timeoutMs} ms waiting for ${count} ${this.#options.what}: ` +
            `${this.count} seen${detail}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1_000));
        this.#waiters.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Stops following. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#following;
  }

  /** Same as {@linkcode ProgressWatch.stop}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #see(object: T, at: number): void {
    const key = `${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;
    if (!this.doneAt.has(key) && this.#options.done(object)) {
      this.doneAt.set(key, at);
      this.#notify();
    }
  }

  #notify(): void {
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
  }

  async #follow(): Promise<void> {
    const { client, namespace } = this.#options;
    const signal = this.#abort.signal;
    let resourceVersion: string | undefined;
    while (!signal.aborted) {
      if (resourceVersion === undefined) {
        const list = await client.listAll({ namespace });
        const at = performance.now();
        for (const object of list.items) this.#see(object, at);
        resourceVersion = list.resourceVersion;
      }
      try {
        for await (
          const event of client.watch({ namespace, resourceVersion, abortSignal: signal })
        ) {
          if (event.type === "BOOKMARK") resourceVersion = event.resourceVersion;
          else if (event.type === "ERROR") throw event.error;
          else if (event.type === "UNDECODABLE") resourceVersion = event.resourceVersion;
          else {
            resourceVersion = event.object.metadata?.resourceVersion ?? resourceVersion;
            this.#see(event.object, performance.now());
          }
        }
      } catch (error) {
        if (!(error instanceof GoneError)) throw error;
        resourceVersion = undefined; // too old: list again
      }
    }
  }
}

/** Follows the claims of `namespace` turning `Bound`. */
export function watchBoundClaims(
  kube: KubeClients,
  namespace: string,
): ProgressWatch<HostPortClaim> {
  return new ProgressWatch({
    client: kube.hostPortClaims,
    namespace,
    what: `Bound claims in ${namespace}`,
    done: (claim) => claim.status?.phase === "Bound",
  });
}

/** Follows HostPorts getting a port. */
export function watchAllocatedHostPorts(kube: KubeClients): ProgressWatch<HostPort> {
  return new ProgressWatch({
    client: kube.hostPorts,
    what: "HostPorts holding a port",
    done: (hostPort) => (hostPort.status?.port ?? 0) > 0,
  });
}
