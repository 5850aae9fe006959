/**
 * The Secret of the self-managed certificate source: `ca.crt` (the CA bundle), `ca.key`,
 * `tls.crt` and `tls.key`, base64-encoded as the API stores them. Type `kubernetes.io/tls`, so
 * the serving pair can also be mounted by other tools.
 *
 * @module
 */
import type { Secret } from "kubernetes-types/core/v1.d.ts";
import type { PemPair } from "./tls_certs.ts";
import type { SecretContents } from "./tls_self_managed_plan.ts";

function fromBase64(value: string): string {
  return new TextDecoder().decode(Uint8Array.from(atob(value), (c) => c.charCodeAt(0)));
}

function toBase64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

/** Reads the PEM contents of the Secret; `undefined` when there is no Secret. */
export function decodeSecret(secret: Secret | undefined): SecretContents | undefined {
  if (secret === undefined) return undefined;
  const field = (key: string) => {
    const value = secret.data?.[key];
    return value === undefined ? undefined : fromBase64(value);
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

/** A new `kubernetes.io/tls` Secret holding `data`. */
export function newTlsSecret(
  name: string,
  namespace: string,
  data: Record<string, string>,
): Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace },
    type: "kubernetes.io/tls",
    data,
  };
}
