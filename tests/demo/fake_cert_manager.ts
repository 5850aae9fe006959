/**
 * Stand-ins for cert-manager's `Issuer` and `Certificate` CRDs (cert-manager.io/v1), so that a
 * server-side dry run of the cert-manager release can reach the API server's validation. Only
 * the fields the release uses are typed, with cert-manager's names, required fields and enums;
 * unknown fields are refused, so a misspelt field fails. cert-manager itself (issuing,
 * cainjector) does not run here.
 *
 * @module
 */
import type {
  CustomResourceDefinition,
  JSONSchemaProps,
} from "kubernetes-types/apiextensions/v1.d.ts";

const STRING: JSONSchemaProps = { type: "string" };

const ISSUER_SPEC: JSONSchemaProps = {
  type: "object",
  properties: {
    selfSigned: {
      type: "object",
      properties: { crlDistributionPoints: { type: "array", items: STRING } },
    },
  },
};

const CERTIFICATE_SPEC: JSONSchemaProps = {
  type: "object",
  required: ["issuerRef", "secretName"],
  properties: {
    secretName: STRING,
    dnsNames: { type: "array", items: STRING },
    duration: STRING,
    renewBefore: STRING,
    issuerRef: {
      type: "object",
      required: ["name"],
      properties: { name: STRING, kind: STRING, group: STRING },
    },
    privateKey: {
      type: "object",
      properties: {
        algorithm: { type: "string", enum: ["RSA", "ECDSA", "Ed25519"] },
        size: { type: "integer" },
        encoding: { type: "string", enum: ["PKCS1", "PKCS8"] },
        rotationPolicy: { type: "string", enum: ["Never", "Always"] },
      },
    },
    usages: {
      type: "array",
      items: {
        type: "string",
        enum: [
          "signing",
          "digital signature",
          "content commitment",
          "key encipherment",
          "key agreement",
          "data encipherment",
          "cert sign",
          "crl sign",
          "encipher only",
          "decipher only",
          "any",
          "server auth",
          "client auth",
          "code signing",
          "email protection",
          "s/mime",
          "ipsec end system",
          "ipsec tunnel",
          "ipsec user",
          "timestamping",
          "ocsp signing",
          "microsoft sgc",
          "netscape sgc",
        ],
      },
    },
  },
};

function crd(kind: string, plural: string, spec: JSONSchemaProps): CustomResourceDefinition {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.cert-manager.io` },
    spec: {
      group: "cert-manager.io",
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      scope: "Namespaced",
      versions: [{
        name: "v1",
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: "object",
            required: ["spec"],
            properties: {
              apiVersion: STRING,
              kind: STRING,
              metadata: { type: "object" },
              spec,
            },
          },
        },
      }],
    },
  };
}

/** The two stand-in CRDs, as one JSON list for `kubectl apply -f -`. */
export function fakeCertManagerCrds(): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "List",
    items: [
      crd("Issuer", "issuers", ISSUER_SPEC),
      crd("Certificate", "certificates", CERTIFICATE_SPEC),
    ],
  });
}
