/**
 * The self-managed webhook PKI: an EC P-256 CA and serving certificates it signs (a separate CA,
 * since Go's TLS and rustls reject a self-signed leaf).
 *
 * @module
 */
// @peculiar/x509 needs the Reflect metadata polyfill loaded before it is evaluated.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(crypto);

const EC_ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** A PEM certificate and its PKCS#8 PEM private key. */
export interface PemPair {
  readonly certPem: string;
  readonly keyPem: string;
}

/** Validity of a new certificate: `validityMs` from `now`, `notBefore` backdated for clock skew. */
export interface Validity {
  readonly now: Date;
  readonly validityMs: number;
  readonly backdateMs?: number;
}

/** What a serving certificate must cover; the first DNS name is also the common name. */
export interface ServingNames {
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

/** A random serial number, `validity`'s dates and the signing algorithm. */
function commonFields(validity: Validity) {
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] = serial[0]! & 0x7f; // keep the DER integer positive
  const issued = validity.now.getTime();
  return {
    serialNumber: serial.toHex(),
    notBefore: new Date(issued - (validity.backdateMs ?? 0)),
    notAfter: new Date(issued + validity.validityMs),
    signingAlgorithm: EC_ALGORITHM,
  };
}

/** PEM text ending in a newline, so that PEMs can be concatenated into bundles. */
function pemLine(pem: string): string {
  return pem.endsWith("\n") ? pem : `${pem}\n`;
}

async function toPemPair(cert: x509.X509Certificate, keys: CryptoKeyPair): Promise<PemPair> {
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  const keyPem = pemLine(x509.PemConverter.encode(pkcs8, "PRIVATE KEY"));
  return { certPem: pemLine(cert.toString("pem")), keyPem };
}

/** Creates a self-signed CA certificate and its key. */
export async function generateCa(commonName: string, validity: Validity): Promise<PemPair> {
  const keys = await crypto.subtle.generateKey(EC_ALGORITHM, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    ...commonFields(validity),
    name: [{ CN: [commonName] }],
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return await toPemPair(cert, keys);
}

/** Creates a TLS server certificate for `names` (not empty), signed by `ca`. */
export async function generateServingCert(
  ca: PemPair,
  names: ServingNames,
  validity: Validity,
): Promise<PemPair> {
  const commonName = names.dnsNames[0] ?? names.ipAddresses[0];
  if (commonName === undefined) {
    throw new RangeError("Cannot issue a serving certificate without a DNS name or an IP address");
  }
  const caCert = new x509.X509Certificate(ca.certPem);
  const keys = await crypto.subtle.generateKey(EC_ALGORITHM, true, ["sign", "verify"]);
  const caKey = x509.PemConverter.decodeFirst(ca.keyPem);
  const cert = await x509.X509CertificateGenerator.create({
    ...commonFields(validity),
    subject: [{ CN: [commonName] }],
    issuer: caCert.subject,
    publicKey: keys.publicKey,
    signingKey: await crypto.subtle.importKey("pkcs8", caKey, EC_ALGORITHM, false, ["sign"]),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...names.dnsNames.map((value) => ({ type: "dns" as const, value })),
        ...names.ipAddresses.map((value) => ({ type: "ip" as const, value })),
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return await toPemPair(cert, keys);
}
