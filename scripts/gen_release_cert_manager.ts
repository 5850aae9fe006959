/**
 * The cert-manager variant's objects: a self-signed Issuer and the webhook's serving Certificate
 * (for the Service's DNS names), written to the Secret the Deployment mounts. cert-manager's
 * cainjector copies the CA into the webhook configurations named by the
 * `cert-manager.io/inject-ca-from` annotation (see {@linkcode injectCaFrom}).
 *
 * @module
 */
import { NAMES, objectMeta } from "./gen_release_names.ts";

const CERT_MANAGER_API = "cert-manager.io/v1";

/** A cert-manager object (cert-manager's types are not in kubernetes-types). */
export interface CertManagerObject {
  /** `cert-manager.io/v1`. */
  apiVersion: string;
  /** `Issuer` or `Certificate`. */
  kind: string;
  /** Name, namespace, labels. */
  metadata: { name: string; namespace?: string; labels: Record<string, string> };
  /** The kind's spec. */
  spec: Record<string, unknown>;
}

/** The DNS names the API server uses to call the Service. */
export function serviceDnsNames(): string[] {
  const host = `${NAMES.service}.${NAMES.namespace}.svc`;
  return [host, `${host}.cluster.local`];
}

/** `<namespace>/<certificate>`: the value of `cert-manager.io/inject-ca-from`. */
export function injectCaFrom(): string {
  return `${NAMES.namespace}/${NAMES.certificate}`;
}

/** The self-signed Issuer. */
export function issuer(): CertManagerObject {
  return {
    apiVersion: CERT_MANAGER_API,
    kind: "Issuer",
    metadata: objectMeta(NAMES.certificate, NAMES.namespace),
    spec: { selfSigned: {} },
  };
}

/** The serving Certificate; cert-manager renews it, and the operator reloads the files. */
export function certificate(): CertManagerObject {
  return {
    apiVersion: CERT_MANAGER_API,
    kind: "Certificate",
    metadata: objectMeta(NAMES.certificate, NAMES.namespace),
    spec: {
      secretName: NAMES.tlsSecret,
      dnsNames: serviceDnsNames(),
      issuerRef: { kind: "Issuer", name: NAMES.certificate },
      privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" },
      usages: ["server auth", "digital signature"],
      duration: "2160h",
      renewBefore: "720h",
    },
  };
}
