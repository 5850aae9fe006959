/**
 * Where the admission server's serving certificate comes from, in cert-manager's
 * `CertificateSource` shape: the current pair, `start(signal)` that loads the first pair and
 * keeps it fresh, and `healthy()`. The server subscribes and swaps its TLS context in place.
 *
 * @module
 */
import { createPrivateKey, X509Certificate } from "node:crypto";

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
