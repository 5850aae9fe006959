/**
 * Who the client authenticates as, asked of the API server (`SelfSubjectReview`,
 * `authentication.k8s.io/v1`, GA since 1.28; every authenticated user may create one).
 *
 * @module
 */
import { backoffDelay, type Clock, DEFAULT_BACKOFF, sleep, SYSTEM_CLOCK } from "./clock.ts";
import type { RestClient } from "./rest_client.ts";

/** The path of `selfsubjectreviews`. */
export const SELF_SUBJECT_REVIEWS_PATH = "/apis/authentication.k8s.io/v1/selfsubjectreviews";

/**
 * Returns the username the API server knows `rest` by (for a ServiceAccount
 * `system:serviceaccount:<namespace>:<name>`).
 *
 * @throws a `KubeApiError` when the API server refuses, or an `Error` when the answer carries no
 *   username
 */
export async function selfUsername(rest: RestClient, signal?: AbortSignal): Promise<string> {
  const review = await rest.performRequest({
    method: "POST",
    path: SELF_SUBJECT_REVIEWS_PATH,
    bodyJson: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
    expectJson: true,
    ...(signal === undefined ? {} : { abortSignal: signal }),
  });
  const username = (review as { status?: { userInfo?: { username?: unknown } } } | null)?.status
    ?.userInfo?.username;
  if (typeof username !== "string" || username === "") {
    throw new Error("The SelfSubjectReview answer carries no username");
  }
  return username;
}

/**
 * Asks the API server who `rest` is, retrying with the informer's backoff (reporting each failure
 * to `onError`) until it answers or `signal` aborts. `username()` reads the answer without
 * waiting; `known` resolves with it, or `undefined` when stopped first.
 */
export function learnSelfUsername(
  rest: RestClient,
  options: { signal?: AbortSignal; onError?: (error: unknown) => void; clock?: Clock } = {},
): { username(): string | undefined; known: Promise<string | undefined> } {
  let username: string | undefined;
  const stopped = () => options.signal?.aborted === true;
  const known = (async () => {
    for (let attempt = 0; !stopped(); attempt++) {
      try {
        return username = await selfUsername(rest, options.signal);
      } catch (error) {
        if (stopped()) break;
        options.onError?.(error);
        const delay = backoffDelay(attempt, DEFAULT_BACKOFF);
        await sleep(options.clock ?? SYSTEM_CLOCK, delay, options.signal);
      }
    }
    return undefined;
  })();
  return { username: () => username, known };
}
