import assert from "node:assert/strict";
import { fakeClock } from "../../tests/fake_clock.ts";
import type { RequestOptions, RestClient } from "./rest_client.ts";
import { learnSelfUsername, SELF_SUBJECT_REVIEWS_PATH, selfUsername } from "./self_subject.ts";

/** A client answering each POST with the next of `answers` (an Error rejects). */
function scriptedClient(answers: unknown[]): RestClient & { requests: RequestOptions[] } {
  const requests: RequestOptions[] = [];
  return {
    requests,
    performRequest(opts: RequestOptions) {
      requests.push(opts);
      const answer = answers.shift();
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
  } as RestClient & { requests: RequestOptions[] };
}

const REVIEW = { status: { userInfo: { username: "system:serviceaccount:ns:op" } } };

Deno.test("selfUsername() posts a SelfSubjectReview and returns its username", async () => {
  const rest = scriptedClient([REVIEW]);
  assert.equal(await selfUsername(rest), "system:serviceaccount:ns:op");
  assert.equal(rest.requests[0]?.method, "POST");
  assert.equal(rest.requests[0]?.path, SELF_SUBJECT_REVIEWS_PATH);
  assert.deepEqual(rest.requests[0]?.bodyJson, {
    apiVersion: "authentication.k8s.io/v1",
    kind: "SelfSubjectReview",
  });
});

Deno.test("selfUsername() rejects an answer without a username", async () => {
  await assert.rejects(selfUsername(scriptedClient([{ status: {} }])), /carries no username/);
});

Deno.test("learnSelfUsername() is unknown until an attempt succeeds, retrying with backoff", async () => {
  const { clock, fake } = fakeClock();
  const errors: unknown[] = [];
  const rest = scriptedClient([new Error("refused"), REVIEW]);
  const learned = learnSelfUsername(rest, { clock, onError: (error) => errors.push(error) });
  assert.equal(learned.username(), undefined);
  await fake.tickAsync(60_000);
  assert.equal(await learned.known, "system:serviceaccount:ns:op");
  assert.equal(learned.username(), "system:serviceaccount:ns:op");
  assert.equal(errors.length, 1);
  assert.equal(rest.requests.length, 2);
});

Deno.test("learnSelfUsername() stops when its signal aborts", async () => {
  const { clock } = fakeClock();
  const stop = new AbortController();
  const learned = learnSelfUsername(scriptedClient([new Error("down")]), {
    clock,
    signal: stop.signal,
  });
  stop.abort();
  assert.equal(await learned.known, undefined);
  assert.equal(learned.username(), undefined);
});
