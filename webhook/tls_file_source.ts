/**
 * A serving certificate read from files (a mounted Secret, as cert-manager or an admin provides
 * it), re-read on an interval and on file-system events. The pair is swapped only when the bytes
 * change and the new certificate and key parse and belong together; a bad new pair is ignored
 * (the old one keeps being served) and counted, and the source turns unhealthy after
 * `maxFailures` failures in a row. The shape follows cert-manager's `FileCertificateSource`.
 *
 * @module
 */
import { join } from "node:path";
import { type Clock, sleep, SYSTEM_CLOCK } from "../lib/kube/mod.ts";
import { type CertificateSource, inspectPair, PairHolder, type ServingPair } from "./tls_source.ts";

/** controller-runtime's default certificate directory, kept so existing manifests work. */
export const DEFAULT_CERT_DIR = "/tmp/k8s-webhook-server/serving-certs";
/** Default re-read interval (cert-manager's). */
export const DEFAULT_FILE_POLL_INTERVAL_MS = 10_000;
/** Default number of failed reloads in a row before the source reports unhealthy (cert-manager's). */
export const DEFAULT_MAX_FAILURES = 12;

/** Options of {@linkcode FileCertificateSource}. */
export interface FileCertificateSourceOptions {
  /** Directory holding the files; default {@linkcode DEFAULT_CERT_DIR}. */
  dir?: string;
  /** Certificate file name in `dir`; default `tls.crt`. */
  certFile?: string;
  /** Key file name in `dir`; default `tls.key`. */
  keyFile?: string;
  /** Re-read interval in ms; default {@linkcode DEFAULT_FILE_POLL_INTERVAL_MS}. */
  intervalMs?: number;
  /** Failed reloads in a row before `healthy()` turns false; default 12. */
  maxFailures?: number;
  /** Also reload on `Deno.watchFs` events in `dir` (default true). */
  watch?: boolean;
  /** Told about each failed reload (the old pair stays in use). */
  onError?: (message: string) => void;
  /** Time source for the interval; defaults to the system clock. */
  clock?: Clock;
}

/** Reads the serving certificate from `tls.crt` and `tls.key` in a directory. */
export class FileCertificateSource implements CertificateSource {
  /** Path of the certificate file. */
  readonly certPath: string;
  /** Path of the key file. */
  readonly keyPath: string;
  #dir: string;
  #options: FileCertificateSourceOptions;
  #holder = new PairHolder();
  #cachedCert = "";
  #cachedKey = "";
  #failures = 0;
  #wake: (() => void) | undefined;
  #changed = false;
  #loop: Promise<void> | undefined;

  /** Creates a stopped source; call `start`. */
  constructor(options: FileCertificateSourceOptions = {}) {
    this.#options = options;
    this.#dir = options.dir ?? DEFAULT_CERT_DIR;
    this.certPath = join(this.#dir, options.certFile ?? "tls.crt");
    this.keyPath = join(this.#dir, options.keyFile ?? "tls.key");
  }

  /** The pair being served. */
  current(): ServingPair | undefined {
    return this.#holder.pair;
  }

  /** True while a pair is loaded and fewer than `maxFailures` reloads in a row have failed. */
  healthy(): boolean {
    return this.#holder.pair !== undefined &&
      this.#failures < (this.#options.maxFailures ?? DEFAULT_MAX_FAILURES);
  }

  /** Failed reloads since the last good one. */
  get consecutiveFailures(): number {
    return this.#failures;
  }

  /** Resolves when the background loop has ended (after the start signal aborted). */
  get finished(): Promise<void> {
    return this.#loop ?? Promise.resolve();
  }

  /** Subscribes to pair changes. */
  subscribe(listener: (pair: ServingPair) => void): () => void {
    return this.#holder.subscribe(listener);
  }

  /**
   * Loads the pair, retrying on the interval, then keeps reloading until `signal` aborts.
   *
   * @throws {Error} when no good pair was read `maxFailures` times in a row, or `signal` aborted
   */
  async start(signal: AbortSignal): Promise<void> {
    const clock = this.#options.clock ?? SYSTEM_CLOCK;
    const maxFailures = this.#options.maxFailures ?? DEFAULT_MAX_FAILURES;
    let lastError = "";
    while (this.#holder.pair === undefined) {
      lastError = await this.reload() ?? lastError;
      if (this.#holder.pair !== undefined) break;
      if (signal.aborted || this.#failures >= maxFailures) {
        throw new Error(`Cannot load the serving certificate from ${this.#dir}: ${lastError}`);
      }
      await sleep(clock, this.#interval(), signal);
    }
    this.#loop = this.#run(signal, clock);
  }

  /**
   * Reads both files once and swaps the pair when they changed and are good.
   *
   * @returns why the reload failed, or `undefined` when it succeeded or nothing changed
   */
  async reload(): Promise<string | undefined> {
    let certPem: string;
    let keyPem: string;
    try {
      [certPem, keyPem] = await Promise.all([
        Deno.readTextFile(this.certPath),
        Deno.readTextFile(this.keyPath),
      ]);
    } catch (error) {
      return this.#fail(`cannot read the files: ${error instanceof Error ? error.message : error}`);
    }
    if (certPem === this.#cachedCert && keyPem === this.#cachedKey) {
      this.#failures = 0; // the files hold the pair being served
      return undefined;
    }
    // Only a good pair is cached, so a bad pair on disk fails every reload until it is fixed.
    const inspected = inspectPair(certPem, keyPem);
    if (!inspected.ok) return this.#fail(inspected.reason);
    this.#cachedCert = certPem;
    this.#cachedKey = keyPem;
    this.#failures = 0;
    this.#holder.set(inspected.pair);
    return undefined;
  }

  #fail(reason: string): string {
    this.#failures++;
    this.#options.onError?.(
      `Cannot reload the serving certificate from ${this.#dir} (failure ${this.#failures}): ${reason}`,
    );
    return reason;
  }

  #interval(): number {
    return this.#options.intervalMs ?? DEFAULT_FILE_POLL_INTERVAL_MS;
  }

  async #run(signal: AbortSignal, clock: Clock): Promise<void> {
    const watcher = this.#options.watch === false ? undefined : this.#watch();
    const stopWatching = () => watcher?.close();
    signal.addEventListener("abort", stopWatching, { once: true });
    try {
      while (!signal.aborted) {
        await this.#sleepOrWake(clock, signal);
        if (!signal.aborted) await this.reload();
      }
    } finally {
      signal.removeEventListener("abort", stopWatching);
      stopWatching();
    }
  }

  async #sleepOrWake(clock: Clock, signal: AbortSignal): Promise<void> {
    if (!this.#changed) {
      const wakeEarly = new AbortController();
      this.#wake = () => wakeEarly.abort();
      await sleep(clock, this.#interval(), AbortSignal.any([signal, wakeEarly.signal]));
      this.#wake = undefined;
    }
    this.#changed = false;
  }

  /** Notes a file-system event; one that arrives during a reload is not lost. */
  #onChange(): void {
    this.#changed = true;
    this.#wake?.();
  }

  /** Wakes the loop on any change in the directory (Secret volumes swap a `..data` symlink). */
  #watch(): Deno.FsWatcher | undefined {
    let watcher: Deno.FsWatcher;
    try {
      watcher = Deno.watchFs(this.#dir, { recursive: false });
    } catch {
      return undefined; // polling alone still works
    }
    (async () => {
      try {
        for await (const _event of watcher) this.#onChange();
      } catch {
        // The watcher closed or failed; the interval keeps reloading.
      }
    })();
    return watcher;
  }
}
