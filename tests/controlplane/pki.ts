/**
 * Throwaway certificates for the test control plane, made with the openssl CLI. Every key is
 * EC P-256; every leaf is signed by a separate CA, because Deno's TLS stack (rustls) rejects a
 * self-signed certificate used as a leaf.
 *
 * @module
 */
import { join } from "node:path";
import { ControlPlaneError } from "./errors.ts";

/** A PEM certificate and key, in memory and on disk. */
export interface TlsPair {
  /** Certificate (PEM). */
  certPem: string;
  /** Private key (PKCS#8 PEM). */
  keyPem: string;
  /** File holding `certPem`. */
  certFile: string;
  /** File holding `keyPem`. */
  keyFile: string;
}

/** Service-account token signing keys. */
export interface ServiceAccountKeys {
  /** Private key the apiserver signs tokens with (PKCS#8 PEM file). */
  signingKeyFile: string;
  /** Public key the apiserver verifies tokens with (PEM file). */
  publicKeyFile: string;
}

/** Everything the control plane itself needs. */
export interface ControlPlanePki {
  /** CA that signs the apiserver's serving certificate and the client certificates. */
  ca: TlsPair;
  /** The apiserver's serving certificate for `127.0.0.1` and `localhost`. */
  apiServer: TlsPair;
  /** Client certificate for `CN=admin, O=system:masters` (bypasses RBAC). */
  admin: TlsPair;
  /** Service-account signing keys. */
  serviceAccount: ServiceAccountKeys;
}

/** A serving certificate for a webhook server on `127.0.0.1` / `localhost`, and its CA. */
export interface WebhookTls extends TlsPair {
  /** The CA that signed the certificate (PEM); trust it in clients. */
  caPem: string;
  /** File holding `caPem`. */
  caFile: string;
  /** `caPem` in base64, ready for a webhook's `clientConfig.caBundle`. */
  caBundle: string;
}

const SERVER_SANS = "subjectAltName=IP:127.0.0.1,DNS:localhost";

async function openssl(cwd: string, args: string[]): Promise<void> {
  const output = await new Deno.Command("openssl", { args, cwd, stdout: "piped", stderr: "piped" })
    .output()
    .catch((error: unknown) => {
      throw new ControlPlaneError("Cannot run openssl: it is needed to make test certificates", {
        cause: error,
      });
    });
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr).trim();
    throw new ControlPlaneError(
      `Cannot make a test certificate: openssl ${args[0]} failed: ${stderr}`,
    );
  }
}

async function readPair(dir: string, name: string): Promise<TlsPair> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  return {
    certFile,
    keyFile,
    certPem: await Deno.readTextFile(certFile),
    keyPem: await Deno.readTextFile(keyFile),
  };
}

const NEW_EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"];

/** Creates a self-signed CA named `name` in `dir` (`<name>.crt`, `<name>.key`). */
export async function createCa(dir: string, name: string): Promise<TlsPair> {
  await openssl(
    dir,
    [
      "req",
      "-x509",
      ...NEW_EC_KEY,
      ["-subj", `/CN=${name}`],
      ["-keyout", `${name}.key`, "-out", `${name}.crt`],
      ["-addext", "basicConstraints=critical,CA:TRUE"],
      ["-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"],
    ].flat(),
  );
  return await readPair(dir, name);
}

/**
 * Creates a leaf certificate `name` in `dir`, signed by `ca`.
 *
 * @param subject distinguished name such as `/O=system:masters/CN=admin`
 * @param extensions extra `-addext` values (extended key usage, SANs)
 */
export async function createLeaf(
  dir: string,
  name: string,
  options: { ca: TlsPair; subject: string; extensions: string[] },
): Promise<TlsPair> {
  await openssl(
    dir,
    [
      "req",
      "-x509",
      ["-CA", options.ca.certFile, "-CAkey", options.ca.keyFile],
      ...NEW_EC_KEY,
      ["-subj", options.subject],
      ["-keyout", `${name}.key`, "-out", `${name}.crt`],
      ["-addext", "basicConstraints=critical,CA:FALSE"],
      ["-addext", "keyUsage=critical,digitalSignature"],
      ...options.extensions.map((extension) => ["-addext", extension]),
    ].flat(),
  );
  return await readPair(dir, name);
}

/** Creates the CA, serving, admin and service-account material of a control plane in `dir`. */
export async function createControlPlanePki(dir: string): Promise<ControlPlanePki> {
  await Deno.mkdir(dir, { recursive: true });
  const ca = await createCa(dir, "ca");
  const apiServer = await createLeaf(dir, "apiserver", {
    ca,
    subject: "/CN=kube-apiserver",
    extensions: ["extendedKeyUsage=serverAuth", SERVER_SANS],
  });
  const admin = await createLeaf(dir, "admin", {
    ca,
    subject: "/O=system:masters/CN=admin",
    extensions: ["extendedKeyUsage=clientAuth"],
  });
  await openssl(dir, [
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    "sa.key",
  ]);
  await openssl(dir, ["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
  const serviceAccount = {
    signingKeyFile: join(dir, "sa.key"),
    publicKeyFile: join(dir, "sa.pub"),
  };
  return { ca, apiServer, admin, serviceAccount };
}

/** Creates a webhook CA and a serving certificate for `127.0.0.1` and `localhost` in `dir`. */
export async function createWebhookTls(dir: string): Promise<WebhookTls> {
  await Deno.mkdir(dir, { recursive: true });
  const ca = await createCa(dir, "webhook-ca");
  const serving = await createLeaf(dir, "webhook", {
    ca,
    subject: "/CN=webhook",
    extensions: ["extendedKeyUsage=serverAuth", SERVER_SANS],
  });
  const caBundle = btoa(ca.certPem);
  return { ...serving, caPem: ca.certPem, caFile: ca.certFile, caBundle };
}

/** Credentials of kube-controller-manager and kube-scheduler. */
export interface ControllersPki {
  /** Client certificate for `CN=system:kube-controller-manager` (its bootstrap RBAC user). */
  controllerManager: TlsPair;
  /** Client certificate for `CN=system:kube-scheduler` (its bootstrap RBAC user). */
  scheduler: TlsPair;
  /** Serving certificate for `127.0.0.1` and `localhost`, so their `/healthz` can be checked. */
  serving: TlsPair;
}

/** Creates the client and serving certificates of the controllers in `dir`, signed by `ca`. */
export async function createControllersPki(dir: string, ca: TlsPair): Promise<ControllersPki> {
  await Deno.mkdir(dir, { recursive: true });
  const client = (name: string, user: string) =>
    createLeaf(dir, name, {
      ca,
      subject: `/CN=${user}`,
      extensions: ["extendedKeyUsage=clientAuth"],
    });
  return {
    controllerManager: await client("kube-controller-manager", "system:kube-controller-manager"),
    scheduler: await client("kube-scheduler", "system:kube-scheduler"),
    serving: await createLeaf(dir, "controllers-serving", {
      ca,
      subject: "/CN=controllers",
      extensions: ["extendedKeyUsage=serverAuth", SERVER_SANS],
    }),
  };
}
