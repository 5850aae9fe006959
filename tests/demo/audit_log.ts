/**
 * Records every API call one user makes, through kube-apiserver's own audit log: a policy that
 * logs that user's requests at `Metadata` level and nothing else, and a reader that turns the
 * log into calls (verb, resource, namespace, name, response code).
 *
 * @module
 */
import { join } from "node:path";
import { z } from "zod";

/** One API call as the API server saw it. */
export interface ApiCall {
  /** The RBAC verb: get, list, watch, create, update, patch, delete, ... */
  verb: string;
  /** API group (`""` for the core group); undefined for a non-resource URL. */
  apiGroup: string | undefined;
  /** `resource` or `resource/subresource`; undefined for a non-resource URL. */
  resource: string | undefined;
  /** Namespace of a namespaced request. */
  namespace: string | undefined;
  /** Object name, when the request names one. */
  name: string | undefined;
  /** The path and query. */
  uri: string;
  /** HTTP status of the response. */
  code: number;
}

const AUDIT_EVENT = z.looseObject({
  auditID: z.string(),
  stage: z.string(),
  verb: z.string(),
  requestURI: z.string(),
  user: z.looseObject({ username: z.string() }),
  objectRef: z.looseObject({
    apiGroup: z.string().optional(),
    resource: z.string().optional(),
    subresource: z.string().optional(),
    namespace: z.string().optional(),
    name: z.string().optional(),
  }).optional(),
  responseStatus: z.looseObject({ code: z.number().optional() }).optional(),
});

/**
 * Writes an audit policy for `user` into `dir` and returns the kube-apiserver flags that turn
 * auditing on, with the log's path.
 */
export async function auditFlags(
  dir: string,
  user: string,
): Promise<{ args: string[]; logPath: string }> {
  const policyPath = join(dir, "audit-policy.yaml");
  const logPath = join(dir, "audit.log");
  await Deno.writeTextFile(
    policyPath,
    [
      "apiVersion: audit.k8s.io/v1",
      "kind: Policy",
      "omitStages: [RequestReceived]",
      "rules:",
      `  - level: Metadata\n    users: ["${user}"]`,
      "  - level: None",
      "",
    ].join("\n"),
  );
  return {
    args: [
      `--audit-policy-file=${policyPath}`,
      `--audit-log-path=${logPath}`,
      "--audit-log-format=json",
      "--audit-log-mode=blocking",
      "--audit-log-maxbackup=0",
    ],
    logPath,
  };
}

/** Reads the calls `user` made from the audit log, one per request (its last stage). */
export async function readApiCalls(logPath: string, user: string): Promise<ApiCall[]> {
  const text = await Deno.readTextFile(logPath);
  const byId = new Map<string, ApiCall>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const event = AUDIT_EVENT.parse(JSON.parse(line));
    if (event.user.username !== user) continue;
    const ref = event.objectRef;
    const resource = ref?.resource === undefined
      ? undefined
      : ref.subresource
      ? `${ref.resource}/${ref.subresource}`
      : ref.resource;
    // A watch logs ResponseStarted, then ResponseComplete: the later stage wins.
    byId.set(event.auditID, {
      verb: event.verb,
      apiGroup: ref === undefined ? undefined : ref.apiGroup ?? "",
      resource,
      namespace: ref?.namespace,
      name: ref?.name,
      uri: event.requestURI,
      code: event.responseStatus?.code ?? 0,
    });
  }
  return [...byId.values()];
}
