/**
 * The original operator's seven webhook paths and names (seed 0).
 *
 * @module
 */

/** URL paths the admission server answers, one per webhook. */
export const WEBHOOK_PATHS = {
  mutateHostPort: "/mutate-hostport-rmb938-com-v1alpha1-hostport",
  mutateHostPortClaim: "/mutate-hostport-rmb938-com-v1alpha1-hostportclaim",
  mutateHostPortClass: "/mutate-hostport-rmb938-com-v1alpha1-hostportclass",
  validateHostPort: "/validate-hostport-rmb938-com-v1alpha1-hostport",
  validateHostPortClaim: "/validate-hostport-rmb938-com-v1alpha1-hostportclaim",
  validateHostPortClass: "/validate-hostport-rmb938-com-v1alpha1-hostportclass",
  mutatePod: "/mutate-v1-pod",
} as const;

/** Key of {@linkcode WEBHOOK_PATHS} and {@linkcode WEBHOOK_NAMES}. */
export type WebhookId = keyof typeof WEBHOOK_PATHS;

/** Webhook names in the webhook configurations; the API server quotes them in rejections. */
export const WEBHOOK_NAMES: { readonly [id in WebhookId]: string } = {
  mutateHostPort: "mhostport.kb.io",
  mutateHostPortClaim: "mhostportclaim.kb.io",
  mutateHostPortClass: "mhostportclass.kb.io",
  validateHostPort: "vhostport.kb.io",
  validateHostPortClaim: "vhostportclaim.kb.io",
  validateHostPortClass: "vhostportclass.kb.io",
  mutatePod: "mpod.kb.io",
};

/** The webhook an exact URL path belongs to. */
export function webhookForPath(path: string): WebhookId | undefined {
  return (Object.keys(WEBHOOK_PATHS) as WebhookId[]).find((id) => WEBHOOK_PATHS[id] === path);
}
