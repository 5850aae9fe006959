/**
 * Where the admission server's serving certificate comes from, in cert-manager's
 * `CertificateSource` shape (the server subscribes and swaps its TLS context in place), and the
 * source that reads it from files (a mounted Secret); the other is in `tls_self_managed.ts`.
 *
 * @module
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { join } from "node:path";
import { sleep, SYSTEM_CLOCK } from "../lib/kube/mod.ts";
import { errorMessage } from "../lib/api/mod.ts";
import type { PemPair } from "./tls_certs.ts";

/** A chain (leaf first) and the leaf's key, checked to match, with the leaf's validity and SANs. */
export interface ServingPair extends PemPair {
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly subjectAltNames: readonly string[];
}

/** Provides the serving certificate and tells when it changes (what the server needs). */
export type CertificateSource = Pick<PairSource, "current" | "start" | "healthy" | "subscribe">;

/** Parses a certificate and key and checks they match (not expiry), or says why not. */
export function inspectPair(
  certPem: string,
  keyPem: string,
): { ok: true; pair: ServingPair } | { ok: false; reason: string } {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (error) {
    return { ok: false, reason: `the certificate cannot be parsed: ${errorMessage(error)}` };
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) {
      return { ok: false, reason: "the private key does not match the certificate" };
    }
  } catch (error) {
    return { ok: false, reason: `the private key cannot be parsed: ${errorMessage(error)}` };
  }
  const subjectAltNames = (cert.subjectAltName ?? "").split(",")
    .map((name) => name.trim().replace(/^IP Address:/, "IP:"))
    .filter((name) => name !== "");
  const [notBefore, notAfter] = [new Date(cert.validFrom), new Date(cert.validTo)];
  return { ok: true, pair: { certPem, keyPem, notBefore, notAfter, subjectAltNames } };
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

/** Failed refreshes in a row before a source reports unhealthy (cert-manager's). */
const MAX_FAILURES = 12;

/**
 * What every source shares: the pair and its subscribers, failures in a row, and the loop that
 * refreshes until one refresh succeeds, then in the background until the start signal aborts.
 */
export abstract class PairSource {
  #pair: ServingPair | undefined;
  #listeners = new Set<(pair: ServingPair) => void>();
  #wake = () => {};
  #woken = false;
  /** Failed refreshes in a row. */
  protected failures = 0;

  /** Creates a source that retries a failed refresh after `retryMs`; see {@linkcode healthy}. */
  constructor(protected readonly retryMs: number) {}

  /** Refreshes once; resolves to the ms until the next refresh, or undefined when it failed. */
  protected abstract refresh(): Promise<number | undefined>;

  /** Why `start` gave up. */
  protected abstract startError(): string;

  /** Loads the first pair (or throws why not), then keeps it fresh until `signal` aborts. */
  async start(signal: AbortSignal): Promise<void> {
    let wait = await this.refresh();
    while (wait === undefined) {
      if (signal.aborted || this.failures >= MAX_FAILURES) throw new Error(this.startError());
      await sleep(SYSTEM_CLOCK, this.retryMs, signal);
      wait = await this.refresh();
    }
    void this.#run(signal, wait);
  }

  async #run(signal: AbortSignal, wait: number): Promise<void> {
    while (!signal.aborted) {
      if (!this.#woken) {
        const early = new AbortController();
        this.#wake = () => early.abort();
        await sleep(SYSTEM_CLOCK, Math.max(0, wait), AbortSignal.any([signal, early.signal]));
      }
      this.#woken = false; // a wake-up during the refresh below is not lost
      if (!signal.aborted) wait = await this.refresh() ?? this.retryMs;
    }
  }

  /** Refreshes now rather than when the wait ends. */
  protected wake(): void {
    this.#woken = true;
    this.#wake();
  }

  /** The pair to serve now; `undefined` until `start` has loaded one. */
  current(): ServingPair | undefined {
    return this.#pair;
  }

  /** True while a pair is served and fewer than 12 refreshes in a row failed. */
  healthy(): boolean {
    return this.#pair !== undefined && this.failures < MAX_FAILURES;
  }

  /** Calls `listener` with every new pair; returns a function that unsubscribes. */
  subscribe(listener: (pair: ServingPair) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Replaces the pair and tells every subscriber; one subscriber's bug does not stop the rest. */
  protected setPair(pair: ServingPair): void {
    this.#pair = pair;
    for (const listener of this.#listeners) {
      try {
        listener(pair);
      } catch { /* the others still get the new pair */ }
    }
  }
}

/** Options of {@linkcode FileCertificateSource}: the directory, and a re-read interval (10 s). */
export interface FileCertificateSourceOptions {
  dir: string;
  intervalMs?: number;
  onError?: (message: string) => void;
}

/**
 * Reads the pair from `tls.crt` and `tls.key` in a directory and swaps it when the bytes change
 * and the new pair is good; a bad one is counted and the old one kept being served.
 */
export class FileCertificateSource extends PairSource {
  #options: FileCertificateSourceOptions;
  #lastError = "";

  /** Creates a stopped source; call `start`. */
  constructor(options: FileCertificateSourceOptions) {
    super(options.intervalMs ?? 10_000);
    this.#options = options;
  }

  /** Loads the pair (throwing after 12 failures), then keeps reloading until `signal` aborts. */
  override async start(signal: AbortSignal): Promise<void> {
    await super.start(signal);
    if (signal.aborted) return;
    let watcher: Deno.FsWatcher;
    try {
      // Reloads on any change in the directory too (Secret volumes swap a `..data` symlink).
      watcher = Deno.watchFs(this.#options.dir, { recursive: false });
    } catch {
      return; // polling alone still works
    }
    signal.addEventListener("abort", () => watcher.close(), { once: true });
    (async () => {
      for await (const _event of watcher) this.wake();
    })().catch(() => {}); // the watcher failed: polling alone still works
  }

  /** Reads both files once and swaps a changed good pair. */
  protected async refresh(): Promise<number | undefined> {
    const files = await Promise.all(
      ["tls.crt", "tls.key"].map((name) => Deno.readTextFile(join(this.#options.dir, name))),
    ).catch((error: unknown) => `cannot read the files: ${errorMessage(error)}`);
    if (typeof files === "string") return this.#fail(files);
    const [certPem = "", keyPem = ""] = files;
    const served = this.current();
    // Compared with the pair served, so a bad pair on disk fails every reload until it is fixed.
    if (certPem !== served?.certPem || keyPem !== served.keyPem) {
      const inspected = inspectPair(certPem, keyPem);
      if (!inspected.ok) return this.#fail(inspected.reason);
      this.setPair(inspected.pair);
    }
    this.failures = 0;
    return this.retryMs;
  }

  protected startError(): string {
    return `Cannot load the serving certificate from ${this.#options.dir}: ${this.#lastError}`;
  }

  #fail(reason: string): undefined {
    this.failures++;
    this.#lastError = reason;
    this.#options.onError?.(
      `Cannot reload the serving certificate from ${this.#options.dir} ` +
        `(failure ${this.failures}): ${reason}`,
    );
  }
}
