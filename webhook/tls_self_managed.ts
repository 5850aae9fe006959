/**
 * A self-managed serving certificate: the operator makes its own CA and serving certificate,
 * keeps them in a Secret in its namespace, writes the CA bundle into its webhook configurations,
 * and renews both before they expire. Every replica runs the same loop; the Secret is the single
 * source of truth and every write is a compare-and-swap on its resourceVersion, so replicas that
 * race agree on one pair (the loser re-reads and adopts the winner's).
 *
 * Order of a pass: make the Secret right, then the webhook configurations' `caBundle`, then serve
 * the Secret's pair, so the API server trusts a new CA before any replica serves a certificate of
 * it. During a CA renewal the old CA stays in the bundle until it expires.
 *
 * @module
 */
import { X509Certificate } from "node:crypto";
import type { Secret } from "kubernetes-types/core/v1.d.ts";
import {
  AlreadyExistsError,
  type Clock,
  ConflictError,
  type KubeClients,
  NotFoundError,
  sleep,
  SYSTEM_CLOCK,
} from "../lib/kube/mod.ts";
import { generateCa, generateServingCert, type PemPair, type ServingNames } from "./tls_certs.ts";
import { injectCaBundle } from "./tls_ca_injection.ts";
import { decodeSecret, newTlsSecret, secretData } from "./tls_self_managed_secret.ts";
import {
  planServingSecret,
  type SecretContents,
  type SecretPlan,
  splitPemBundle,
  validCas,
} from "./tls_self_managed_plan.ts";
import { type CertificateSource, inspectPair, PairHolder, type ServingPair } from "./tls_source.ts";

const DAY_MS = 86_400_000;

/** Options of {@linkcode SelfManagedCertificateSource}. */
export interface SelfManagedOptions {
  /** Clients for Secrets and webhook configurations. */
  kube: Pick<
    KubeClients,
    "secrets" | "mutatingWebhookConfigurations" | "validatingWebhookConfigurations"
  >;
  /** The operator's namespace (holds the Secret; part of the service DNS names). */
  namespace: string;
  /** The webhook Service's name: the certificate covers `<service>.<namespace>.svc[.cluster.local]`. */
  serviceName: string;
  /** The Secret's name; default `<serviceName>-tls`. */
  secretName?: string;
  /** Extra DNS names (out-of-cluster runs). */
  dnsNames?: readonly string[];
  /** IP addresses to cover (`127.0.0.1` for a webhook called by URL on loopback). */
  ipAddresses?: readonly string[];
  /** MutatingWebhookConfigurations whose `caBundle` this source keeps current. */
  mutatingWebhookConfigurations?: readonly string[];
  /** ValidatingWebhookConfigurations whose `caBundle` this source keeps current. */
  validatingWebhookConfigurations?: readonly string[];
  /** CA lifetime; default 5 years. */
  caValidityMs?: number;
  /** Serving certificate lifetime; default 90 days. */
  servingValidityMs?: number;
  /** Renew once this fraction of a lifetime has passed; default 2/3. */
  renewFraction?: number;
  /** After a CA renewal, serve the old CA's certificate this much longer; default 60 s. */
  caPropagationMs?: number;
  /** New certificates are valid from this long before issue (clock skew); default 5 min. */
  backdateMs?: number;
  /** Re-read the Secret this often (picks up renewals by other replicas); default 60 s. */
  resyncIntervalMs?: number;
  /** Wait this long after a failed pass; default 5 s. */
  retryIntervalMs?: number;
  /** Failed passes in a row before `healthy()` turns false; default 12. */
  maxFailures?: number;
  /** Time source; defaults to the system clock. */
  clock?: Clock;
  /**
   * Called on each pass with the CA bundle before it is injected (`--register-webhooks` creates
   * the configurations there, so they exist before the first injection).
   */
  beforeInjection?: (caBundlePem: string) => Promise<void>;
  /** Told about each failed pass and about names of configurations that do not exist. */
  onError?: (message: string) => void;
  /** Told about each certificate issued, with the reason. */
  onIssue?: (message: string) => void;
}

/** Keeps a CA and serving certificate in a Secret and serves the Secret's pair. */
export class SelfManagedCertificateSource implements CertificateSource {
  /** The Secret's name. */
  readonly secretName: string;
  /** Names the serving certificate covers. */
  readonly names: ServingNames;
  #options: SelfManagedOptions;
  #clock: Clock;
  #holder = new PairHolder();
  #failures = 0;
  #loop: Promise<void> | undefined;

  /** Creates a stopped source; call `start`. */
  constructor(options: SelfManagedOptions) {
    this.#options = options;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.secretName = options.secretName ?? `${options.serviceName}-tls`;
    const service = `${options.serviceName}.${options.namespace}.svc`;
    this.names = {
      dnsNames: [service, `${service}.cluster.local`, ...(options.dnsNames ?? [])],
      ipAddresses: [...(options.ipAddresses ?? [])],
    };
  }

  /** The pair being served. */
  current(): ServingPair | undefined {
    return this.#holder.pair;
  }

  /** True while a pair is served and fewer than `maxFailures` passes in a row failed. */
  healthy(): boolean {
    return this.#holder.pair !== undefined && this.#failures < (this.#options.maxFailures ?? 12);
  }

  /** Subscribes to pair changes. */
  subscribe(listener: (pair: ServingPair) => void): () => void {
    return this.#holder.subscribe(listener);
  }

  /** Resolves when the background loop has ended. */
  get finished(): Promise<void> {
    return this.#loop ?? Promise.resolve();
  }

  /**
   * Runs passes until one succeeds, then keeps renewing in the background until `signal` aborts.
   *
   * @throws {Error} when `maxFailures` passes in a row failed, or `signal` aborted first
   */
  async start(signal: AbortSignal): Promise<void> {
    let nextAt: Date | undefined;
    while (nextAt === undefined) {
      nextAt = await this.#tryPass();
      if (nextAt !== undefined) break;
      if (signal.aborted || this.#failures >= (this.#options.maxFailures ?? 12)) {
        throw new Error(`Cannot set up the webhook certificate in Secret ${this.#secretRef()}`);
      }
      await sleep(this.#clock, this.#options.retryIntervalMs ?? 5_000, signal);
    }
    this.#loop = this.#run(signal, nextAt);
  }

  async #run(signal: AbortSignal, firstRenewal: Date): Promise<void> {
    let renewAt = firstRenewal;
    while (!signal.aborted) {
      const resync = this.#options.resyncIntervalMs ?? 60_000;
      const wait = Math.max(0, Math.min(resync, renewAt.getTime() - this.#clock.now()));
      await sleep(this.#clock, wait, signal);
      if (signal.aborted) return;
      const next = await this.#tryPass();
      renewAt = next ?? new Date(this.#clock.now() + (this.#options.retryIntervalMs ?? 5_000));
    }
  }

  async #tryPass(): Promise<Date | undefined> {
    try {
      const renewAt = await this.pass();
      this.#failures = 0;
      return renewAt;
    } catch (error) {
      this.#failures++;
      const detail = error instanceof Error ? error.message : String(error);
      this.#options.onError?.(
        `Cannot refresh the webhook certificate in Secret ${this.#secretRef()} ` +
          `(failure ${this.#failures}): ${detail}`,
      );
      return undefined;
    }
  }

  #backdateMs(): number {
    return this.#options.backdateMs ?? 300_000;
  }

  #secretRef(): string {
    return `${this.#options.namespace}/${this.secretName}`;
  }

  /**
   * One pass: make the Secret right (issuing what is missing or due), inject the CA bundle, and
   * serve the Secret's pair.
   *
   * @returns when the next renewal is due
   * @throws the client's errors, or an `Error` when the Secret keeps changing under it
   */
  async pass(): Promise<Date> {
    const { secrets } = this.#options.kube;
    const namespace = this.#options.namespace;
    let secret: Secret | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      secret ??= await secrets.get(this.secretName, { namespace }).catch((error) => {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      });
      const contents = decodeSecret(secret);
      const now = new Date(this.#clock.now());
      const plan = planServingSecret({
        contents,
        names: this.names,
        now,
        renewFraction: this.#options.renewFraction ?? 2 / 3,
        // Measured from the new CA's (backdated) notBefore.
        caPropagationMs: (this.#options.caPropagationMs ?? 60_000) + this.#backdateMs(),
      });
      if (plan.action === "keep") {
        await this.#options.beforeInjection?.(contents!.caBundlePem!);
        await injectCaBundle(this.#options, contents!.caBundlePem!);
        if (this.#holder.pair?.certPem !== plan.pair.certPem) this.#holder.set(plan.pair);
        return plan.renewAt;
      }
      this.#options.onIssue?.(
        `Issuing a new ${plan.action === "issueCa" ? "CA" : "serving certificate"} in ` +
          `Secret ${this.#secretRef()}: ${plan.reason}`,
      );
      const data = await this.#issue(plan, contents, now);
      try {
        secret = secret === undefined
          ? await secrets.create(newTlsSecret(this.secretName, namespace, data))
          : await secrets.update({ ...secret, data: { ...secret.data, ...data } });
      } catch (error) {
        if (!(error instanceof ConflictError || error instanceof AlreadyExistsError)) throw error;
        secret = undefined; // another replica wrote first: read and adopt its pair
      }
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
    if (plan.action === "issueCa") {
      const validityMs = this.#options.caValidityMs ?? 5 * 365 * DAY_MS;
      ca = await generateCa(`${this.#options.serviceName}-ca`, {
        now,
        validityMs,
        backdateMs: this.#backdateMs(),
      });
      // Old CAs stay trusted until they expire, so certificates they signed keep working.
      bundle = [ca.certPem, ...validCas(contents?.caBundlePem ?? "", now)].join("");
      const old = inspectPair(contents?.certPem ?? "", contents?.keyPem ?? "");
      if (old.ok && old.pair.notAfter > now && contents!.caBundlePem !== undefined) {
        // Keep serving the old certificate until the API server has learnt the new CA.
        return secretData(bundle, ca, { certPem: old.pair.certPem, keyPem: old.pair.keyPem });
      }
    } else {
      bundle = contents!.caBundlePem!;
      ca = { certPem: splitPemBundle(bundle)[0]!, keyPem: contents!.caKeyPem! };
    }
    // A serving certificate never outlives its CA.
    const caLeft = new Date(new X509Certificate(ca.certPem).validTo).getTime() - now.getTime();
    const validityMs = Math.min(this.#options.servingValidityMs ?? 90 * DAY_MS, caLeft);
    const validity = { now, validityMs, backdateMs: this.#backdateMs() };
    return secretData(bundle, ca, await generateServingCert(ca, this.names, validity));
  }
}
