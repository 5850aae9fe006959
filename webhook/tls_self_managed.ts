/**
 * A self-managed serving certificate kept in a Secret, its CA injected into the webhook
 * configurations (as cert-manager's cainjector does) before any replica serves a certificate of
 * it; every write is a compare-and-swap, so racing replicas agree. Also `--register-webhooks`.
 *
 * @module
 */
import { X509Certificate } from "node:crypto";
import type { Secret } from "kubernetes-types/core/v1.d.ts";
import {
  AlreadyExistsError,
  ConflictError,
  type KubeClients,
  type KubeObject,
  NotFoundError,
  orUndefined,
  type ResourceClient,
} from "../lib/kube/mod.ts";
import { errorMessage } from "../lib/api/mod.ts";
import type { PemPair, ServingNames } from "./tls_certs.ts";
import { inspectPair, isSignedBy, PairSource, type ServingPair } from "./tls_source.ts";
import type { ObjectMeta } from "kubernetes-types/meta/v1.d.ts";
import { serviceNames, webhookSet, type WebhookSetOptions } from "./configurations.ts";

const DAY_MS = 86_400_000;

type WebhookClients = Pick<
  KubeClients,
  "mutatingWebhookConfigurations" | "validatingWebhookConfigurations"
>;

/**
 * Options of {@linkcode SelfManagedCertificateSource}: the certificate covers
 * `<serviceName>.<namespace>.svc[.cluster.local]` and the extra names; the Secret is
 * `<serviceName>-tls`. Defaults: CA 5 years, serving certificate 90 days, both renewed
 * after 2/3 of their life; the old CA's certificate served 60 s after a CA renewal; backdating
 * 5 min (clock skew); Secret re-read every 60 s, and 5 s after a failed pass.
 */
export interface SelfManagedOptions {
  kube: WebhookClients & Pick<KubeClients, "secrets">;
  namespace: string;
  serviceName: string;
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  /** Configurations whose `caBundle` this source keeps current. */
  mutatingWebhookConfigurations?: readonly string[];
  validatingWebhookConfigurations?: readonly string[];
  caValidityMs?: number;
  servingValidityMs?: number;
  caPropagationMs?: number;
  backdateMs?: number;
  resyncIntervalMs?: number;
  retryIntervalMs?: number;
  /** Called on each pass with the CA bundle before it is injected (`--register-webhooks`). */
  beforeInjection?: (caBundlePem: string) => Promise<void>;
  /** Told about each failed pass and about names of configurations that do not exist. */
  onError?: (message: string) => void;
  /** Told about each certificate issued, with the reason. */
  onIssue?: (message: string) => void;
}

/** Keeps a CA and serving certificate in a Secret and serves the Secret's pair. */
export class SelfManagedCertificateSource extends PairSource {
  #secretName: string;
  #names: ServingNames;
  #options: SelfManagedOptions;
  #secretRef: string;
  #backdateMs: number;

  /** Creates a stopped source; call `start`. */
  constructor(options: SelfManagedOptions) {
    super(options.retryIntervalMs ?? 5_000);
    this.#options = options;
    const names = serviceNames(options.serviceName, options.namespace);
    this.#secretName = names.tlsSecret;
    this.#secretRef = `${options.namespace}/${this.#secretName}`;
    this.#backdateMs = options.backdateMs ?? 300_000;
    this.#names = {
      dnsNames: [...names.dnsNames, ...(options.dnsNames ?? [])],
      ipAddresses: [...(options.ipAddresses ?? [])],
    };
  }

  protected async refresh(): Promise<number | undefined> {
    try {
      const renewAt = await this.pass();
      this.failures = 0;
      return Math.min(this.#options.resyncIntervalMs ?? 60_000, renewAt.getTime() - Date.now());
    } catch (error) {
      this.failures++;
      this.#options.onError?.(
        `Cannot refresh the webhook certificate in Secret ${this.#secretRef} ` +
          `(failure ${this.failures}): ${errorMessage(error)}`,
      );
      return undefined;
    }
  }

  protected startError(): string {
    return `Cannot set up the webhook certificate in Secret ${this.#secretRef}`;
  }

  /** One pass: fix the Secret, inject the CA bundle, serve the pair; returns when to renew. */
  async pass(): Promise<Date> {
    const { secrets } = this.#options.kube;
    const namespace = this.#options.namespace;
    let secret: Secret | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      secret ??= await orUndefined(secrets.get(this.#secretName, { namespace }));
      const contents = decodeSecret(secret);
      const now = new Date();
      const plan = planServingSecret({
        contents,
        names: this.#names,
        now,
        // Measured from the new CA's (backdated) notBefore.
        caPropagationMs: (this.#options.caPropagationMs ?? 60_000) + this.#backdateMs,
      });
      if (plan.action === "keep") {
        await this.#options.beforeInjection?.(contents!.caBundlePem!);
        await injectCaBundle(this.#options, contents!.caBundlePem!);
        if (this.current()?.certPem !== plan.pair.certPem) this.setPair(plan.pair);
        return plan.renewAt;
      }
      this.#options.onIssue?.(
        `Issuing a new ${plan.action === "issueCa" ? "CA" : "serving certificate"} in ` +
          `Secret ${this.#secretRef}: ${plan.reason}`,
      );
      const data = await this.#issue(plan, contents, now);
      const write = secret === undefined
        ? secrets.create({
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: this.#secretName, namespace },
          type: "kubernetes.io/tls",
          data,
        })
        : secrets.update({ ...secret, data: { ...secret.data, ...data } });
      secret = await write.catch((error) => {
        if (!(error instanceof ConflictError || error instanceof AlreadyExistsError)) throw error;
        return undefined; // another replica wrote first: read and adopt its pair
      });
    }
    throw new Error("the Secret kept changing; giving up for now");
  }

  async #issue(
    plan: Exclude<SecretPlan, { action: "keep" }>,
    contents: SecretContents | undefined,
    now: Date,
  ): Promise<Record<string, string>> {
    let ca: PemPair;
    let bundle: string;
    const backdateMs = this.#backdateMs;
    // Imported here: the x509 stack is evaluated only in a process that issues certificates.
    const { generateCa, generateServingCert } = await import("./tls_certs.ts");
    if (plan.action === "issueCa") {
      const validityMs = this.#options.caValidityMs ?? 5 * 365 * DAY_MS;
      ca = await generateCa(`${this.#options.serviceName}-ca`, { now, validityMs, backdateMs });
      // Old CAs stay trusted until they expire, so certificates they signed keep working.
      bundle = [ca.certPem, ...validCas(contents?.caBundlePem ?? "", now)].join("");
      const old = inspectPair(contents?.certPem ?? "", contents?.keyPem ?? "");
      if (old.ok && old.pair.notAfter > now && contents!.caBundlePem !== undefined) {
        // Keep serving the old certificate until the API server has learnt the new CA.
        return secretData(bundle, ca, old.pair);
      }
    } else {
      bundle = contents!.caBundlePem!;
      ca = { certPem: splitPemBundle(bundle)[0]!, keyPem: contents!.caKeyPem! };
    }
    // A serving certificate never outlives its CA.
    const caLeft = new Date(new X509Certificate(ca.certPem).validTo).getTime() - now.getTime();
    const validityMs = Math.min(this.#options.servingValidityMs ?? 90 * DAY_MS, caLeft);
    const serving = await generateServingCert(ca, this.#names, { now, validityMs, backdateMs });
    return secretData(bundle, ca, serving);
  }
}

/** The Secret's PEMs; `ca.crt` holds the current CA, then older ones still trusted. */
export interface SecretContents {
  caBundlePem?: string | undefined;
  caKeyPem?: string | undefined;
  certPem?: string | undefined;
  keyPem?: string | undefined;
}

/**
 * Input of {@linkcode planServingSecret}; `contents` is undefined when there is no Secret, and
 * `caPropagationMs` is how long after a CA renewal the previous CA's certificate is still served.
 */
export interface PlanInput {
  contents: SecretContents | undefined;
  names: ServingNames;
  now: Date;
  caPropagationMs: number;
}

/** The decision of {@linkcode planServingSecret}. */
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

/** When a certificate is due for renewal: after 2/3 of its lifetime. */
function renewalTime({ notBefore, notAfter }: ServingPair): Date {
  return new Date(notBefore.getTime() + (notAfter.getTime() - notBefore.getTime()) * (2 / 3));
}

/** Decides what to issue, if anything, and when to look again: the first failing check decides. */
export function planServingSecret(input: PlanInput): SecretPlan {
  const { contents, now } = input;
  if (contents === undefined) return { action: "issueCa", reason: "the Secret does not exist" };
  const caPem = splitPemBundle(contents.caBundlePem ?? "")[0] ?? "";
  const ca = inspectPair(caPem, contents.caKeyPem ?? "");
  if (!ca.ok) {
    return { action: "issueCa", reason: "the CA certificate or key is missing or invalid" };
  }
  const caRenewAt = renewalTime(ca.pair);
  if (now >= caRenewAt) return { action: "issueCa", reason: "the CA is due for renewal" };

  const serving = inspectPair(contents.certPem ?? "", contents.keyPem ?? "");
  if (!serving.ok) return { action: "issueServing", reason: `tls.crt/tls.key: ${serving.reason}` };
  let renewAt = renewalTime(serving.pair);
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

/** The CAs of `bundlePem` still valid at `now`. */
export function validCas(bundlePem: string, now: Date): string[] {
  return splitPemBundle(bundlePem).filter((pem) => {
    try {
      return new Date(new X509Certificate(pem).validTo) > now;
    } catch {
      return false;
    }
  });
}

/** Base64 of UTF-8 text, as Secret data and `caBundle` hold it. */
function toBase64(text: string): string {
  return new TextEncoder().encode(text).toBase64();
}

function decodeSecret(secret: Secret | undefined): SecretContents | undefined {
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

function secretData(bundle: string, ca: PemPair, serving: PemPair): Record<string, string> {
  return {
    "ca.crt": toBase64(bundle),
    "ca.key": toBase64(ca.keyPem),
    "tls.crt": toBase64(serving.certPem),
    "tls.key": toBase64(serving.keyPem),
  };
}

type WebhookConfiguration = KubeObject & {
  webhooks?: { clientConfig: { caBundle?: string } }[];
};
type Client = Pick<
  ResourceClient<WebhookConfiguration>,
  "get" | "create" | "update" | "delete" | "resource"
>;

/** Compare-and-swap attempts of one configuration write. */
const MAX_ATTEMPTS = 5;

/**
 * Makes every webhook of the named configurations trust `caBundlePem`; a missing configuration
 * is reported and filled in on a later pass.
 */
async function injectCaBundle(options: SelfManagedOptions, caBundlePem: string): Promise<void> {
  const caBundle = toBase64(caBundlePem);
  const { kube, onError } = options;
  const targets: [Client, readonly string[] | undefined][] = [
    [kube.mutatingWebhookConfigurations, options.mutatingWebhookConfigurations],
    [kube.validatingWebhookConfigurations, options.validatingWebhookConfigurations],
  ];
  for (const [client, names] of targets) {
    for (const name of names ?? []) {
      for (let attempt = 1;; attempt++) {
        const config = await orUndefined(client.get(name));
        if (config === undefined) {
          onError?.(
            `Cannot inject the CA bundle: ${client.resource.kind} "${name}" does not exist`,
          );
          break;
        }
        const webhooks = config.webhooks ?? [];
        if (webhooks.every((webhook) => webhook.clientConfig.caBundle === caBundle)) break;
        const updated = await client.update({ // carries the resourceVersion read above
          ...config,
          webhooks: webhooks.map((webhook) => ({
            ...webhook,
            clientConfig: { ...webhook.clientConfig, caBundle },
          })),
        }).catch((error) => {
          if (!(error instanceof ConflictError) || attempt >= MAX_ATTEMPTS) throw error;
        });
        if (updated) break;
      }
    }
  }
}

/** Label that marks a configuration written by `--register-webhooks`. */
export const REGISTERED_BY_LABEL = "hostport.rmb938.com/registered-by";
/** Its value. */
export const REGISTERED_BY_VALUE = "register-webhooks";

/** Options of {@linkcode WebhookRegistrar}; `baseUrl` is the `https://host:port` to dial. */
export interface RegistrarOptions
  extends Omit<WebhookSetOptions, "client" | "labels" | "annotations"> {
  kube: WebhookClients;
  baseUrl: string;
  /** Told about each configuration written or deleted. */
  onChange?: (message: string) => void;
}

function isOurs(object: KubeObject): boolean {
  const labels = (object.metadata as ObjectMeta | undefined)?.labels;
  return labels?.[REGISTERED_BY_LABEL] === REGISTERED_BY_VALUE;
}

/** Writes the three configurations once, and deletes exactly those it wrote. */
export class WebhookRegistrar {
  #options: RegistrarOptions;
  /** What this process wrote, by uid. */
  #written: { client: Client; name: string; uid: string }[] = [];
  #registered = false;

  /** Creates a registrar that has written nothing yet. */
  constructor(options: RegistrarOptions) {
    this.#options = options;
  }

  #targets(caBundlePem?: string): { client: Client; object: KubeObject }[] {
    const { kube, baseUrl } = this.#options;
    const caBundle = caBundlePem === undefined ? {} : { caBundle: toBase64(caBundlePem) };
    const set = webhookSet({
      ...this.#options,
      client: { kind: "url", baseUrl, ...caBundle },
      labels: { [REGISTERED_BY_LABEL]: REGISTERED_BY_VALUE },
    });
    return set.map((object) => ({
      client:
        (object.kind === "ValidatingWebhookConfiguration"
          ? kube.validatingWebhookConfigurations
          : kube.mutatingWebhookConfigurations) as Client,
      object: object as KubeObject,
    }));
  }

  /** Throws naming the first configuration of our names that exists without our label. */
  async checkNames(): Promise<void> {
    for (const { client, object } of this.#targets()) {
      const name = object.metadata!.name!;
      const existing = await orUndefined(client.get(name));
      if (existing !== undefined && !isOurs(existing)) {
        throw new Error(
          `${client.resource.kind} "${name}" exists without the label ` +
            `${REGISTERED_BY_LABEL}=${REGISTERED_BY_VALUE}; --register-webhooks does not replace ` +
            "a configuration it did not write (delete it, or drop the flag)",
        );
      }
    }
  }

  /**
   * Creates (or updates what a previous run of ours left) the three configurations with
   * `caBundlePem`, once; the certificate source keeps `caBundle` current after that.
   */
  async register(caBundlePem: string): Promise<void> {
    if (this.#registered) return;
    for (const { client, object } of this.#targets(caBundlePem)) {
      const written = await this.#write(client, object);
      this.#written.push({ client, name: written.metadata!.name!, uid: written.metadata!.uid! });
      this.#options.onChange?.(`Registered ${client.resource.kind} "${written.metadata!.name}"`);
    }
    this.#registered = true;
  }

  async #write(client: Client, object: KubeObject): Promise<KubeObject> {
    const name = object.metadata!.name!;
    for (let attempt = 1;; attempt++) {
      const created = await client.create(object).catch((error) => {
        if (!(error instanceof AlreadyExistsError)) throw error;
      });
      if (created) return created;
      const existing = await client.get(name);
      if (!isOurs(existing)) {
        throw new Error(`${client.resource.kind} "${name}" exists and was not written by us`);
      }
      const metadata = { ...object.metadata, resourceVersion: existing.metadata!.resourceVersion };
      const updated = await client.update({ ...object, metadata }).catch((error) => {
        const retry = error instanceof ConflictError || error instanceof NotFoundError;
        if (!retry || attempt >= MAX_ATTEMPTS) throw error;
      });
      if (updated) return updated;
    }
  }

  /** Deletes the configurations this process wrote, unless since replaced or deleted. */
  async unregister(): Promise<void> {
    for (const { client, name, uid } of this.#written.splice(0)) {
      try {
        await client.delete(name, { preconditions: { uid } });
        this.#options.onChange?.(`Deleted ${client.resource.kind} "${name}"`);
      } catch (error) {
        if (!(error instanceof NotFoundError || error instanceof ConflictError)) throw error;
      }
    }
  }
}
