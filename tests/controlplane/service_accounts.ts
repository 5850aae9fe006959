/**
 * ServiceAccount tokens from the TokenRequest API, for tests that act as a ServiceAccount.
 *
 * @module
 */
import { z } from "zod";
import type { ApiClient } from "./api_client.ts";

const TOKEN_REQUEST = z.looseObject({ status: z.looseObject({ token: z.string().min(1) }) });

/**
 * Creates namespace `namespace` and ServiceAccount `name` when missing, then returns a token
 * for that ServiceAccount from the TokenRequest API.
 *
 * @param admin a client that may create namespaces, ServiceAccounts and tokens
 * @param expirationSeconds token lifetime; the apiserver refuses less than 600
 * @throws {ControlPlaneError} when the apiserver refuses a step
 */
export async function requestServiceAccountToken(
  admin: ApiClient,
  namespace: string,
  name: string,
  expirationSeconds: number,
): Promise<string> {
  const ns = encodeURIComponent(namespace);
  const sa = encodeURIComponent(name);
  await admin.expect([201, 409], "POST", "/api/v1/namespaces", {
    body: { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
  });
  await admin.expect([201, 409], "POST", `/api/v1/namespaces/${ns}/serviceaccounts`, {
    body: { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace } },
  });
  const response = await admin.expect(
    [201],
    "POST",
    `/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`,
    {
      body: {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: { expirationSeconds },
      },
    },
  );
  return TOKEN_REQUEST.parse(response.body).status.token;
}
