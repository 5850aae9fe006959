/**
 * Where the admission server's serving certificate comes from, in cert-manager's
 * `CertificateSource` shape: the current pair, `start(signal)` that loads the first pair and
 * keeps it fresh, and `healthy()`. The server subscribes and swaps its TLS context in place.
 *
 * Two sources live here: a static pair, and {@linkcode FileCertificateSource}, a pair read from
 * files (a mounted Secret, as cert-manager or an admin provides it), re-read on an interval and on
 * file-system events. It swaps the pair only when the bytes change and the new certificate and key
 * parse and belong together; a bad new pair is ignored (the old one keeps being served) and
 * counted, and the source turns unhealthy after `maxFailures` failures in a row (cert-manager's
 * `FileCertificateSource`). The self-managed source is in `tls_self_managed.ts`.
 *
 * @module
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { join } from "node:path";
import { type Clock, sleep, SYSTEM_CLOCK } from "../lib/kube/mod.ts";

/** A certificate chain and private key that parse and belong together. */
export interface ServingPair {
  /** Certificate chain (PEM), leaf first. */
  readonly certPem: string;
  /** Private key of the leaf (PEM: PKCS#8, SEC1 or PKCS#1). */
  readonly keyPem: string;
  /** Start of the leaf's validity. */
  readonly notBefore: Date;
  /** End of the leaf's validity. */
  readonly notAfter: Date;
  /** Subject alternative names of the leaf, as `DNS:x` and `IP:y` strings. */
  readonly subjectAltNames: readonly string[];
}

/** Provides the serving certificate and tells when it changes. */
export interface CertificateSource {
  /** The pair to serve now; `undefined` until `start` has loaded one. */
  current(): ServingPair | undefined;
  /**
   * Loads the first pair, then keeps it fresh in the background until `signal` aborts.
   *
   * @returns once a first pair is available
   * @throws when no usable pair can be had (the error says why)
   */
  start(signal: AbortSignal): Promise<void>;
  /** False once refreshing has failed repeatedly (the old pair is still served). */
  healthy(): boolean;
  /** Calls `listener` with every new pair; returns a function that unsubscribes. */
  subscribe(listener: (pair: ServingPair) => void): () => void;
}

/** Outcome of {@linkcode inspectPair}: the parsed pair, or why it is unusable. */
export type PairInspection = { ok: true; pair: ServingPair } | { ok: false; reason: string };

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Parses a certificate and key and checks that the key belongs to the certificate. Expiry is not
 * checked here: callers decide what an old certificate means to them.
 *
 * @returns the pair, or a reason such as `the private key does not match the certificate`
 */
export function inspectPair(certPem: string, keyPem: string): PairInspection {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (error) {
    return { ok: false, reason: `the certificate cannot be parsed: ${describe(error)}` };
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) {
      return { ok: false, reason: "the private key does not match the certificate" };
    }
  } catch (error) {
    return { ok: false, reason: `the private key cannot be parsed: ${describe(error)}` };
  }
  const subjectAltNames = (cert.subjectAltName ?? "").split(",")
    .map((name) => name.trim().replace(/^IP Address:/, "IP:"))
    .filter((name) => name !== "");
  return {
    ok: true,
    pair: {
      certPem,
      keyPem,
      notBefore: new Date(cert.validFrom),
      notAfter: new Date(cert.validTo),
      subjectAltNames,
    },
  };
}

/** Whether `certPem` (the leaf of a chain) was signed by the CA certificate `caPem`. */
export function isSignedBy(certPem: string, caPem: string): boolean {
  try {
    const ca = new X509Certificate(caPem);
    const leaf = new X509Certificate(certPem);
    return leaf.checkIssued(ca) && leaf.verify(ca.publicKey);
  } catch {
    return false;
  }
}

/** Holds the current pair and tells subscribers when it is replaced; shared by the sources. */
export class PairHolder {
  #pair: ServingPair | undefined;
  #listeners = new Set<(pair: ServingPair) => void>();

  /** The pair, if one was set. */
  get pair(): ServingPair | undefined {
    return this.#pair;
  }

  /** Replaces the pair and notifies every subscriber (a failing subscriber does not stop the rest). */
  set(pair: ServingPair): void {
    this.#pair = pair;
    for (const listener of this.#listeners) {
      try {
        listener(pair);
      } catch {
        // A subscriber's bug must not keep the others on the old certificate.
      }
    }
  }

  /** Adds a subscriber; returns a function that removes it. */
  subscribe(listener: (pair: ServingPair) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/**
 * A source holding a pair given in memory (certificates from flags, tests, benchmarks);
 * `replace` swaps it.
 */
export class StaticCertificateSource implements CertificateSource {
  #holder = new PairHolder();

  /**
   * Creates the source from a PEM certificate and key.
   *
   * @throws {TypeError} when they do not parse or do not belong together
   */
  constructor(certPem: string, keyPem: string) {
    this.replace(certPem, keyPem);
  }

  /** The pair. */
  current(): ServingPair | undefined {
    return this.#holder.pair;
  }

  /** Nothing to load: resolves at once. */
  start(_signal: AbortSignal): Promise<void> {
    return Promise.resolve();
  }

  /** Always true: the pair was checked when it was given. */
  healthy(): boolean {
    return true;
  }

  /** Subscribes to `replace` calls. */
  subscribe(listener: (pair: ServingPair) => void): () => void {
    return this.#holder.subscribe(listener);
  }

  /**
   * Swaps in a new pair and notifies subscribers.
   *
   * @throws {TypeError} when they do not parse or do not belong together
   */
  replace(certPem: string, keyPem: string): void {
    const inspected = inspectPair(certPem, keyPem);
    if (!inspected.ok) {
      throw new TypeError(`Cannot use the serving certificate: ${inspected.reason}`);
    }
    this.#holder.set(inspected.pair);
  }
}

/** controller-runtime's default certificate directory, kept so existing manifests work. */
const DEFAULT_CERT_DIR = "/tmp/k8s-webhook-server/serving-certs";
/** Default re-read interval (cert-manager's). */
const DEFAULT_FILE_POLL_INTERVAL_MS = 10_000;
/** Default number of failed reloads in a row before the source reports unhealthy (cert-manager's). */
const DEFAULT_MAX_FAILURES = 12;

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
