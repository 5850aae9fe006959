/**
 * The pure half of the self-managed certificate source: from what the Secret holds (`ca.crt`,
 * the CA bundle; `ca.key`; `tls.crt` and `tls.key`), the names to cover and the time, decide
 * whether to issue a new CA, a new serving certificate, or nothing (and when to look again): a
 * chain of small checks in cert-manager's style, the first that fails decides.
 *
 * @module
 */
import { X509Certificate } from "node:crypto";
import type { PemPair, ServingNames } from "./tls_certs.ts";
import { inspectPair, isSignedBy, type ServingPair } from "./tls_source.ts";
import type { Secret } from "kubernetes-types/core/v1.d.ts";

/** The PEM data of the Secret: a CA bundle (current CA first), the CA key, the serving pair. */
export interface SecretContents {
  /** `ca.crt`: the current CA, then older CAs that are still trusted during a CA rollover. */
  caBundlePem?: string | undefined;
  /** `ca.key`: the current CA's key. */
  caKeyPem?: string | undefined;
  /** `tls.crt`: the serving certificate. */
  certPem?: string | undefined;
  /** `tls.key`: its key. */
  keyPem?: string | undefined;
}

/** What the plan is based on. */
export interface PlanInput {
  /** The Secret's contents, or undefined when it does not exist. */
  contents: SecretContents | undefined;
  /** Names the serving certificate must cover. */
  names: ServingNames;
  /** The current time. */
  now: Date;
  /** Renew a certificate once this fraction of its lifetime has passed (e.g. 2/3). */
  renewFraction: number;
  /**
   * After a CA renewal, keep serving the previous CA's certificate this long, so the API server
   * has learnt the new bundle before any replica serves a certificate of the new CA.
   */
  caPropagationMs: number;
}

/** The decision. */
export type SecretPlan =
  | { action: "issueCa"; reason: string }
  | { action: "issueServing"; reason: string }
  | { action: "keep"; pair: ServingPair; renewAt: Date };

/** Splits a PEM bundle into its certificates (PEM each). */
export function splitPemBundle(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map(
    (pem) => `${pem}\n`,
  ) ?? [];
}

/** When a certificate is due for renewal. */
function renewalTime({ notBefore, notAfter }: ServingPair, fraction: number): Date {
  return new Date(notBefore.getTime() + (notAfter.getTime() - notBefore.getTime()) * fraction);
}

/** Decides what to do about the Secret; see the module documentation. */
export function planServingSecret(input: PlanInput): SecretPlan {
  const { contents, now, renewFraction } = input;
  if (contents === undefined) return { action: "issueCa", reason: "the Secret does not exist" };
  const caPem = splitPemBundle(contents.caBundlePem ?? "")[0];
  const ca = caPem === undefined ? undefined : inspectPair(caPem, contents.caKeyPem ?? "");
  if (ca === undefined || !ca.ok) {
    return { action: "issueCa", reason: "the CA certificate or key is missing or invalid" };
  }
  const caRenewAt = renewalTime(ca.pair, renewFraction);
  if (now >= caRenewAt) return { action: "issueCa", reason: "the CA is due for renewal" };

  const serving = inspectPair(contents.certPem ?? "", contents.keyPem ?? "");
  if (!serving.ok) return { action: "issueServing", reason: `tls.crt/tls.key: ${serving.reason}` };
  let renewAt = renewalTime(serving.pair, renewFraction);
  if (!isSignedBy(serving.pair.certPem, ca.pair.certPem)) {
    const previousCas = validCas(contents.caBundlePem ?? "", now).slice(1);
    const byPrevious = previousCas.some((pem) => isSignedBy(serving.pair.certPem, pem));
    const switchAt = new Date(ca.pair.notBefore.getTime() + input.caPropagationMs);
    if (!byPrevious || now >= switchAt) {
      return { action: "issueServing", reason: "the serving certificate is not signed by the CA" };
    }
    renewAt = new Date(Math.min(renewAt.getTime(), switchAt.getTime()));
  }
  const missing = [
    ...input.names.dnsNames.map((name) => `DNS:${name}`),
    ...input.names.ipAddresses.map((ip) => `IP:${ip}`),
  ].filter((name) => !serving.pair.subjectAltNames.includes(name));
  if (missing.length > 0) {
    return {
      action: "issueServing",
      reason: `the serving certificate does not cover ${missing.join(", ")}`,
    };
  }
  if (now >= renewAt) {
    return { action: "issueServing", reason: "the serving certificate is due for renewal" };
  }
  return {
    action: "keep",
    pair: serving.pair,
    renewAt: new Date(Math.min(renewAt.getTime(), caRenewAt.getTime())),
  };
}

/** The CAs of `bundlePem` that are still valid at `now` (expired ones leave the bundle). */
export function validCas(bundlePem: string, now: Date): string[] {
  return splitPemBundle(bundlePem).filter((pem) => {
    try {
      return new Date(new X509Certificate(pem).validTo) > now;
    } catch {
      return false;
    }
  });
}

/** The base64 of `text`'s UTF-8 bytes, as the API stores Secret data and `caBundle`. */
export function toBase64(text: string): string {
  return new TextEncoder().encode(text).toBase64();
}

/** Reads the PEM contents of the Secret; `undefined` when there is no Secret. */
export function decodeSecret(secret: Secret | undefined): SecretContents | undefined {
  if (secret === undefined) return undefined;
  const field = (key: string) => {
    const value = secret.data?.[key];
    return value === undefined ? undefined : new TextDecoder().decode(Uint8Array.fromBase64(value));
  };
  return {
    caBundlePem: field("ca.crt"),
    caKeyPem: field("ca.key"),
    certPem: field("tls.crt"),
    keyPem: field("tls.key"),
  };
}

/** The Secret's `data` for a CA bundle, the current CA's key and a serving pair. */
export function secretData(bundle: string, ca: PemPair, serving: PemPair): Record<string, string> {
  return {
    "ca.crt": toBase64(bundle),
    "ca.key": toBase64(ca.keyPem),
    "tls.crt": toBase64(serving.certPem),
    "tls.key": toBase64(serving.keyPem),
  };
}
