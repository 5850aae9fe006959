/**
 * Small helpers for the CRD tests against the real kube-apiserver: raw requests with their
 * status, assertions on the answers, and object builders.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { ControlPlane } from "./controlplane/harness.ts";

/** Path prefix of the API group. */
export const API = "/apis/hostport.rmb938.com/v1alpha1";

/** Status and decoded body of one API request. */
export interface Reply {
  /** HTTP status. */
  status: number;
  /** The decoded JSON body (an object, or a Status on failure). */
  body: { message?: string; [key: string]: unknown };
}

/**
 * Sends `body` as JSON (a merge patch for PATCH) to `path` as the admin.
 *
 * @returns the status and decoded body, whatever the status
 */
export async function send(
  cp: ControlPlane,
  method: string,
  path: string,
  body?: unknown,
): Promise<Reply> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) {
    headers["content-type"] = method === "PATCH"
      ? "application/merge-patch+json"
      : "application/json";
  }
  const init: RequestInit = { method, headers };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await cp.fetch(path, init);
  return { status: response.status, body: await response.json() };
}

/** Asserts a 422 Invalid whose message contains every fragment. */
export function assertInvalid(reply: Reply, ...fragments: string[]): void {
  assert.equal(reply.status, 422, JSON.stringify(reply.body));
  for (const fragment of fragments) {
    assert.ok(reply.body.message?.includes(fragment), reply.body.message);
  }
}

/** Asserts a 200 or 201. */
export function assertOk(reply: Reply): void {
  assert.ok(reply.status === 200 || reply.status === 201, JSON.stringify(reply.body));
}

/**
 * Builds an object of one of the three kinds; `spec` is left out when undefined.
 *
 * @param metadata `name`, and `namespace`/`finalizers` when wanted
 */
export function object(
  kind: "HostPortClass" | "HostPortClaim" | "HostPort",
  metadata: { name: string; namespace?: string; finalizers?: string[] },
  spec?: unknown,
): Record<string, unknown> {
  const value: Record<string, unknown> = {
    apiVersion: "hostport.rmb938.com/v1alpha1",
    kind,
    metadata,
  };
  if (spec !== undefined) value.spec = spec;
  return value;
}
