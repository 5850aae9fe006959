/**
 * Writes a CA bundle into the `clientConfig.caBundle` of every webhook of named
 * Mutating/ValidatingWebhookConfigurations (what cert-manager's cainjector does), with
 * compare-and-swap updates. A configuration that does not exist yet is reported, not fatal: it
 * is filled in on a later pass.
 *
 * @module
 */
import { ConflictError, type KubeClients, NotFoundError } from "../lib/kube/mod.ts";
import type { KubeObject, ResourceClient } from "../lib/kube/mod.ts";

/** Where to inject. */
export interface CaInjectionTargets {
  /** Clients for the two configuration kinds. */
  kube: Pick<KubeClients, "mutatingWebhookConfigurations" | "validatingWebhookConfigurations">;
  /** MutatingWebhookConfiguration names. */
  mutatingWebhookConfigurations?: readonly string[] | undefined;
  /** ValidatingWebhookConfiguration names. */
  validatingWebhookConfigurations?: readonly string[] | undefined;
  /** Told about configurations that do not exist. */
  onError?: ((message: string) => void) | undefined;
}

type WebhookConfiguration = KubeObject & {
  webhooks?: { clientConfig: { caBundle?: string } }[];
};

const MAX_ATTEMPTS = 5;

function base64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

async function injectOne<T extends WebhookConfiguration>(
  client: Pick<ResourceClient<T>, "get" | "update" | "resource">,
  name: string,
  caBundle: string,
  onError: ((message: string) => void) | undefined,
): Promise<void> {
  for (let attempt = 1;; attempt++) {
    let config: T;
    try {
      config = await client.get(name);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      onError?.(`Cannot inject the CA bundle: ${client.resource.kind} "${name}" does not exist`);
      return;
    }
    const webhooks = config.webhooks ?? [];
    if (webhooks.every((webhook) => webhook.clientConfig.caBundle === caBundle)) return;
    const updated = {
      ...config,
      webhooks: webhooks.map((webhook) => ({
        ...webhook,
        clientConfig: { ...webhook.clientConfig, caBundle },
      })),
    };
    try {
      await client.update(updated); // carries the resourceVersion read above
      return;
    } catch (error) {
      if (!(error instanceof ConflictError) || attempt >= MAX_ATTEMPTS) throw error;
    }
  }
}

/**
 * Makes every webhook of the named configurations trust `caBundlePem`.
 *
 * @throws the client's errors other than NotFound (and Conflict until the attempts run out)
 */
export async function injectCaBundle(
  targets: CaInjectionTargets,
  caBundlePem: string,
): Promise<void> {
  const caBundle = base64(caBundlePem);
  const { kube, onError } = targets;
  for (const name of targets.mutatingWebhookConfigurations ?? []) {
    await injectOne(kube.mutatingWebhookConfigurations, name, caBundle, onError);
  }
  for (const name of targets.validatingWebhookConfigurations ?? []) {
    await injectOne(kube.validatingWebhookConfigurations, name, caBundle, onError);
  }
}
