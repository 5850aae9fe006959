/**
 * zod schemas for the kubeconfig file format (`clientcmd/api/v1`) and the exec
 * credential plugin protocol (`client.authentication.k8s.io/v1` and `v1beta1`).
 * Only the fields this client uses are listed; unknown fields pass through.
 *
 * @module
 */
import * as z from "zod";

/** `clusters[].cluster` */
export const KubeConfigCluster = z.looseObject({
  server: z.string().min(1),
  "certificate-authority": z.string().nullish(),
  "certificate-authority-data": z.string().nullish(),
  "insecure-skip-tls-verify": z.boolean().nullish(),
  "tls-server-name": z.string().nullish(),
  "proxy-url": z.string().nullish(),
});
/** A cluster entry's connection settings. */
export type KubeConfigCluster = z.infer<typeof KubeConfigCluster>;

/** `users[].user.exec` */
export const KubeConfigExec = z.looseObject({
  apiVersion: z.enum([
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
  ]),
  command: z.string().min(1),
  args: z.array(z.string()).nullish(),
  env: z.array(z.object({ name: z.string(), value: z.string() })).nullish(),
  installHint: z.string().nullish(),
  provideClusterInfo: z.boolean().nullish(),
  interactiveMode: z.enum(["Never", "IfAvailable", "Always"]).nullish(),
});
/** An exec credential plugin's settings. */
export type KubeConfigExec = z.infer<typeof KubeConfigExec>;

/** `users[].user` */
export const KubeConfigUser = z.looseObject({
  "client-certificate": z.string().nullish(),
  "client-certificate-data": z.string().nullish(),
  "client-key": z.string().nullish(),
  "client-key-data": z.string().nullish(),
  token: z.string().nullish(),
  tokenFile: z.string().nullish(),
  username: z.string().nullish(),
  password: z.string().nullish(),
  exec: KubeConfigExec.nullish(),
  "auth-provider": z.looseObject({ name: z.string() }).nullish(),
});
/** A user entry's credentials. */
export type KubeConfigUser = z.infer<typeof KubeConfigUser>;

/** `contexts[].context` */
export const KubeConfigContext = z.looseObject({
  cluster: z.string().min(1),
  user: z.string().nullish(),
  namespace: z.string().nullish(),
});
/** A context entry. */
export type KubeConfigContext = z.infer<typeof KubeConfigContext>;

/** One kubeconfig file. */
export const KubeConfigFile = z.looseObject({
  apiVersion: z.string().nullish(),
  kind: z.string().nullish(),
  "current-context": z.string().nullish(),
  clusters: z.array(z.looseObject({ name: z.string().min(1), cluster: KubeConfigCluster }))
    .nullish(),
  users: z.array(z.looseObject({ name: z.string().min(1), user: KubeConfigUser.nullish() }))
    .nullish(),
  contexts: z.array(z.looseObject({ name: z.string().min(1), context: KubeConfigContext }))
    .nullish(),
});
/** One parsed kubeconfig file. */
export type KubeConfigFile = z.infer<typeof KubeConfigFile>;

/** The `status` an exec plugin prints. */
export const ExecCredentialStatus = z.looseObject({
  token: z.string().nullish(),
  clientCertificateData: z.string().nullish(),
  clientKeyData: z.string().nullish(),
  expirationTimestamp: z.iso.datetime({ offset: true }).nullish(),
});

/** What an exec plugin prints on stdout. */
export const ExecCredential = z.looseObject({
  apiVersion: z.enum([
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
  ]),
  kind: z.literal("ExecCredential"),
  status: ExecCredentialStatus,
});
/** A parsed ExecCredential. */
export type ExecCredential = z.infer<typeof ExecCredential>;
