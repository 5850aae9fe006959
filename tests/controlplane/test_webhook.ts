/**
 * A validating webhook for harness tests: it rejects every ConfigMap create in the namespaces it
 * is configured for, which proves that the apiserver reaches a local server through
 * {@linkcode ControlPlane.webhookTls} certificates.
 *
 * @module
 */
import { z } from "zod";
import type { WebhookTls } from "./pki.ts";

const REVIEW = z.looseObject({ request: z.looseObject({ uid: z.string() }) });

/** A running rejecting webhook server. */
export interface RejectingWebhook extends AsyncDisposable {
  /** Name of the ValidatingWebhookConfiguration that {@linkcode configuration} returns. */
  name: string;
  /** Returns a ValidatingWebhookConfiguration for namespaces matching `labelSelector` (`k=v`). */
  configuration(labelSelector: string): Record<string, unknown>;
  /** How many admission reviews the server has answered. */
  reviews(): number;
}

/** Serves a rejecting webhook on 127.0.0.1 with `tls`; dispose it to shut it down. */
export function serveRejectingWebhook(tls: WebhookTls, message: string): Promise<RejectingWebhook> {
  let reviews = 0;
  const { promise: listening, resolve } = Promise.withResolvers<number>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: tls.certPem,
    key: tls.keyPem,
    onListen: (address) => resolve(address.port),
  }, async (request) => {
    const review = REVIEW.safeParse(await request.json().catch(() => undefined));
    if (!review.success) return new Response("Cannot decode the AdmissionReview", { status: 400 });
    reviews += 1;
    return Response.json({
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      response: { uid: review.data.request.uid, allowed: false, status: { code: 403, message } },
    });
  });
  const name = "controlplane-test-webhook";
  return listening.then((port) => ({
    name,
    reviews: () => reviews,
    configuration: (labelSelector: string) => {
      const [key = "", value = ""] = labelSelector.split("=");
      return {
        apiVersion: "admissionregistration.k8s.io/v1",
        kind: "ValidatingWebhookConfiguration",
        metadata: { name },
        webhooks: [{
          name: "reject.controlplane.test",
          clientConfig: { url: `https://127.0.0.1:${port}/validate`, caBundle: tls.caBundle },
          rules: [{
            apiGroups: [""],
            apiVersions: ["v1"],
            operations: ["CREATE"],
            resources: ["configmaps"],
          }],
          namespaceSelector: { matchLabels: { [key]: value } },
          admissionReviewVersions: ["v1"],
          sideEffects: "None",
          failurePolicy: "Fail",
          timeoutSeconds: 5,
        }],
      };
    },
    [Symbol.asyncDispose]: () => server.shutdown(),
  }));
}
