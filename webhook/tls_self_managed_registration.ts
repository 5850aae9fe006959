/**
 * `--register-webhooks`: an operator running out of cluster writes its three webhook
 * configurations (`configurations.ts`, called by URL, trusting the self-managed CA) at start and
 * deletes them on exit. Each one carries the label {@linkcode REGISTERED_BY_LABEL}; a
 * configuration of the same name without it (the release's, or one made by hand) is never
 * touched, and only the objects this process wrote (matched by uid) are deleted.
 *
 * @module
 */
import {
  AlreadyExistsError,
  ConflictError,
  type KubeClients,
  type KubeObject,
  NotFoundError,
  type ResourceClient,
} from "../lib/kube/mod.ts";
import type { ObjectMeta } from "kubernetes-types/meta/v1.d.ts";
import { webhookSet } from "./configurations.ts";

/** Label that marks a configuration written by `--register-webhooks`. */
export const REGISTERED_BY_LABEL = "hostport.rmb938.com/registered-by";
/** Its value. */
export const REGISTERED_BY_VALUE = "register-webhooks";

/** Options of {@linkcode WebhookRegistrar}. */
export interface RegistrarOptions {
  /** Clients for the two configuration kinds. */
  kube: Pick<KubeClients, "mutatingWebhookConfigurations" | "validatingWebhookConfigurations">;
  /** `https://host:port` the API server dials, without a path. */
  baseUrl: string;
  /** Name of the CR webhooks' Mutating and Validating configuration. */
  crdName: string;
  /** Name of the pod webhook's Mutating configuration. */
  podName: string;
  /** The operator's namespace, which the pod webhook never sees. */
  operatorNamespace: string;
  /** Told about each configuration written or deleted. */
  onChange?: (message: string) => void;
}

type Client = Pick<ResourceClient<KubeObject>, "get" | "create" | "update" | "delete" | "resource">;

const MAX_ATTEMPTS = 5;

function base64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
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
    const { kube } = this.#options;
    const set = webhookSet({
      client: {
        kind: "url",
        baseUrl: this.#options.baseUrl,
        ...caBundlePem === undefined ? {} : { caBundle: base64(caBundlePem) },
      },
      crdName: this.#options.crdName,
      podName: this.#options.podName,
      operatorNamespace: this.#options.operatorNamespace,
      labels: { [REGISTERED_BY_LABEL]: REGISTERED_BY_VALUE },
    });
    const mutating = kube.mutatingWebhookConfigurations as unknown as Client;
    const validating = kube.validatingWebhookConfigurations as unknown as Client;
    return [
      { client: mutating, object: set.crdMutating as KubeObject },
      { client: validating, object: set.crdValidating as KubeObject },
      { client: mutating, object: set.podMutating as KubeObject },
    ];
  }

  /**
   * Checks that no configuration of our names exists without our label.
   *
   * @throws {Error} naming the first configuration that is not ours, or the client's errors
   */
  async checkNames(): Promise<void> {
    for (const { client, object } of this.#targets()) {
      const name = object.metadata!.name!;
      const existing = await client.get(name).catch((error) => {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      });
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
   * Creates (or, when a previous run of ours left them, updates) the three configurations with
   * `caBundlePem`; later calls do nothing (the certificate source keeps `caBundle` current).
   *
   * @throws {Error} when a configuration of our names is not ours, or the client's errors
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
      try {
        return await client.create(object);
      } catch (error) {
        if (!(error instanceof AlreadyExistsError)) throw error;
      }
      const existing = await client.get(name);
      if (!isOurs(existing)) {
        throw new Error(`${client.resource.kind} "${name}" exists and was not written by us`);
      }
      try {
        const metadata = {
          ...object.metadata,
          resourceVersion: existing.metadata!.resourceVersion,
        };
        return await client.update({ ...object, metadata });
      } catch (error) {
        const retry = error instanceof ConflictError || error instanceof NotFoundError;
        if (!retry || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * Deletes the configurations this process wrote, unless they were since replaced (another uid)
   * or deleted.
   *
   * @throws the client's errors other than NotFound and a failed uid precondition
   */
  async unregister(): Promise<void> {
    const written = this.#written.splice(0);
    for (const { client, name, uid } of written) {
      try {
        await client.delete(name, { preconditions: { uid } });
        this.#options.onChange?.(`Deleted ${client.resource.kind} "${name}"`);
      } catch (error) {
        if (!(error instanceof NotFoundError || error instanceof ConflictError)) throw error;
      }
    }
  }
}
