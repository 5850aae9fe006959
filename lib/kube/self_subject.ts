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
 * @param rest the client to identify
 * @param signal aborts the request
 * @returns the username
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
  const username = usernameOf(review);
  if (username === undefined) throw new Error("The SelfSubjectReview answer carries no username");
  return username;
}

function usernameOf(review: unknown): string | undefined {
  const status = field(review, "status");
  const userInfo = field(status, "userInfo");
  const username = field(userInfo, "username");
  return typeof username === "string" && username !== "" ? username : undefined;
}

function field(value: unknown, name: string): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  return (value as Record<string, unknown>)[name];
}

/** Options of {@linkcode learnSelfUsername}. */
export interface LearnSelfUsernameOptions {
  signal?: AbortSignal;
  /** Called with each failed attempt's error (it is retried with backoff). */
  onError?: (error: unknown) => void;
  /** The clock for the backoff; default the system clock. */
  clock?: Clock;
}

/** What {@linkcode learnSelfUsername} returns. */
export interface SelfUsername {
  /** The username once known, else `undefined`. */
  username(): string | undefined;
  /** Resolves with the username, or `undefined` when stopped first. */
  known: Promise<string | undefined>;
}

/**
 * Asks the API server who `rest` is, retrying with the informer's backoff until it answers or
 * `options.signal` aborts; `username()` reads the answer without waiting.
 *
 * @param rest the client to identify
 * @param options stop signal, error reporting and clock
 */
export function learnSelfUsername(
  rest: RestClient,
  options: LearnSelfUsernameOptions = {},
): SelfUsername {
  let username: string | undefined;
  const clock = options.clock ?? SYSTEM_CLOCK;
  const stopped = () => options.signal?.aborted === true;
  const known = (async () => {
    for (let attempt = 0; !stopped(); attempt++) {
      try {
        username = await selfUsername(rest, options.signal);
        return username;
      } catch (error) {
        if (stopped()) break;
        options.onError?.(error);
        await sleep(clock, backoffDelay(attempt, DEFAULT_BACKOFF), options.signal);
      }
    }
    return undefined;
  })();
  return { username: () => username, known };
}
