import assert from "node:assert/strict";
import fc from "fast-check";
import {
  AlreadyExistsError,
  ConflictError,
  describeConnectionFailure,
  ForbiddenError,
  GoneError,
  InvalidError,
  jsonLines,
  KubeApiError,
  kubeApiErrorFromResponse,
  KubeConnectionError,
  learnSelfUsername,
  NotFoundError,
  type RequestOptions,
  type RestClient,
  selfUsername,
  UnauthorizedError,
} from "./rest_client.ts";
import { fakeClock } from "../../tests/fake_clock.ts";

const encode = (s: string) => new TextEncoder().encode(s);

function split(chunks: Uint8Array[]): Promise<unknown[]> {
  return Array.fromAsync(jsonLines(new Response(ReadableStream.from(chunks))));
}

Deno.test("jsonLines() holds a partial line until its newline arrives", async () => {
  const lines = await split([encode('{"a":'), encode('1}\n{"b"'), encode(":2}\n")]);
  assert.deepEqual(lines, [{ a: 1 }, { b: 2 }]);
});

Deno.test("jsonLines() handles CRLF, blank lines and a last line without newline", async () => {
  assert.deepEqual(await split([encode('"a"\r\n\r\n\n"b"\n  \n"c"')]), ["a", "b", "c"]);
});

Deno.test("jsonLines() decodes a character split across chunks", async () => {
  const bytes = encode('"h\u00e9\u20ac"\n');
  assert.deepEqual(await split([...bytes].map((b) => new Uint8Array([b]))), ["h\u00e9\u20ac"]);
});

Deno.test("jsonLines() rejects a line that is not JSON", async () => {
  await assert.rejects(split([encode('{"a":1}\nnot json\n')]), {
    name: "SyntaxError",
    message: "Cannot parse a streamed line as JSON: not json",
  });
});

Deno.test("jsonLines() yields the same values however the bytes are chunked", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.string({ unit: "grapheme", minLength: 1 }).filter((s) =>
          !/[\r\n]/.test(s) && s.trim() !== ""
        ),
        { maxLength: 8 },
      ),
      fc.array(fc.nat(), { maxLength: 10 }),
      async (lines, cuts) => {
        const bytes = encode(lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let start = 0;
        for (const point of [...points, bytes.length]) {
          chunks.push(bytes.slice(start, point));
          start = point;
        }
        assert.deepEqual(await split(chunks), lines);
      },
    ),
    { numRuns: 200 },
  );
});

const request = { method: "PUT", path: "/api/v1/namespaces/a/pods/p" };

function statusBody(code: number, reason: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    message: `${reason} happened`,
    reason,
    code,
    ...extra,
  });
}

Deno.test("kubeApiErrorFromResponse() maps each status code to its subclass", () => {
  const cases: { code: number; reason: string; type: new (...a: never[]) => KubeApiError }[] = [
    { code: 401, reason: "Unauthorized", type: UnauthorizedError },
    { code: 403, reason: "Forbidden", type: ForbiddenError },
    { code: 404, reason: "NotFound", type: NotFoundError },
    { code: 409, reason: "Conflict", type: ConflictError },
    { code: 409, reason: "AlreadyExists", type: AlreadyExistsError },
    { code: 410, reason: "Expired", type: GoneError },
    { code: 410, reason: "Gone", type: GoneError },
    { code: 422, reason: "Invalid", type: InvalidError },
    { code: 500, reason: "InternalError", type: KubeApiError },
  ];
  for (const c of cases) {
    const error = kubeApiErrorFromResponse(c.code, statusBody(c.code, c.reason), request);
    assert.ok(error instanceof c.type, `${c.code} ${c.reason} -> ${error.name}`);
    assert.ok(error instanceof KubeApiError);
    assert.equal(error.code, c.code);
    assert.equal(error.reason, c.reason);
    assert.equal(error.status.message, `${c.reason} happened`);
  }
});

Deno.test("kubeApiErrorFromResponse() names the request and the reason in the message", () => {
  const error = kubeApiErrorFromResponse(404, statusBody(404, "NotFound"), request);
  assert.equal(error.name, "NotFoundError");
  assert.equal(
    error.message,
    "Kubernetes API PUT /api/v1/namespaces/a/pods/p failed with 404 NotFound: NotFound happened",
  );
  assert.deepEqual(error.request, request);
});

Deno.test("InvalidError keeps the field problems of a 422 in its status", () => {
  const causes = [{ reason: "FieldValueInvalid", field: "spec.pools[0].end", message: "bad" }];
  const error = kubeApiErrorFromResponse(
    422,
    statusBody(422, "Invalid", { details: { name: "x", kind: "HostPortClass", causes } }),
  );
  assert.ok(error instanceof InvalidError);
  assert.deepEqual(error.status.details?.causes, causes);
});

Deno.test("kubeApiErrorFromResponse() takes the code from HTTP when the Status lacks one", () => {
  const body = JSON.stringify({ kind: "Status", reason: "NotFound", message: "x" });
  const error = kubeApiErrorFromResponse(404, body);
  assert.ok(error instanceof NotFoundError);
  assert.equal(error.code, 404);
});

Deno.test("kubeApiErrorFromResponse() falls back for a non-JSON body", () => {
  const error = kubeApiErrorFromResponse(503, "<html>upstream down</html>\n", request);
  assert.ok(error instanceof KubeApiError);
  assert.equal(error.code, 503);
  assert.equal(error.reason, "ServiceUnavailable");
  assert.equal(error.status.message, "<html>upstream down</html>");
});

Deno.test("kubeApiErrorFromResponse() falls back for JSON that is not a Status", () => {
  const error = kubeApiErrorFromResponse(403, JSON.stringify({ error: "nope" }));
  assert.ok(error instanceof ForbiddenError);
  assert.equal(error.reason, "Forbidden");
  assert.equal(error.status.message, '{"error":"nope"}');
});

Deno.test("kubeApiErrorFromResponse() shortens a long body and names an empty one", () => {
  const long = kubeApiErrorFromResponse(500, "x".repeat(1000));
  assert.equal(long.status.message, `${"x".repeat(300)}...`);
  const empty = kubeApiErrorFromResponse(418, "");
  assert.equal(empty.reason, "Unknown");
  assert.equal(empty.status.message, "empty response body");
});

function fetchFailure(inner: string): TypeError {
  return new TypeError("fetch failed", { cause: new Error(inner) });
}

Deno.test("describeConnectionFailure() names the cause of a fetch failure in one line", () => {
  const url = "error sending request for url (https://127.0.0.1:6443/api?x=1): ";
  const cases: [unknown, string][] = [
    [
      fetchFailure(
        `${url}client error (Connect): invalid peer certificate: UnknownIssuer`,
      ),
      "TLS: invalid peer certificate: UnknownIssuer",
    ],
    [
      fetchFailure(
        `${url}client error (Connect): dns error: failed to lookup address information: ` +
          "Name or service not known",
      ),
      "DNS: failed to lookup address information: Name or service not known",
    ],
    [
      fetchFailure(
        `${url}client error (Connect): tcp connect error: Connection refused (os error 111)`,
      ),
      "connection refused",
    ],
    [
      fetchFailure(`${url}client error (SendRequest): connection reset by peer`),
      "connection reset",
    ],
    [
      fetchFailure(`${url}client error (Connect): received fatal alert: HandshakeFailure`),
      "TLS: received fatal alert: HandshakeFailure",
    ],
    [
      fetchFailure(`${url}client error (SendRequest): invalid HTTP version parsed`),
      "invalid HTTP version parsed",
    ],
    [new TypeError("fetch failed"), "fetch failed"],
    [new Error("reset"), "reset"],
    ["plain string", "plain string"],
  ];
  for (const [error, expected] of cases) {
    assert.equal(describeConnectionFailure(error), expected);
  }
});

Deno.test("describeConnectionFailure() follows a cause chain deeper than one level", () => {
  const root = new Error("tcp connect error: Connection refused (os error 111)");
  const middle = new Error("client error (Connect)", { cause: root });
  assert.equal(
    describeConnectionFailure(new TypeError("fetch failed", { cause: middle })),
    "connection refused",
  );
});

Deno.test("KubeConnectionError puts the cause in its one-line message", () => {
  const error = new KubeConnectionError(
    "https://127.0.0.1:6443",
    { method: "GET", path: "/version" },
    fetchFailure(
      "error sending request for url (https://127.0.0.1:6443/version): " +
        "client error (Connect): invalid peer certificate: UnknownIssuer",
    ),
  );
  assert.equal(
    error.message,
    'Cannot reach the API server at "https://127.0.0.1:6443" for GET /version: ' +
      "TLS: invalid peer certificate: UnknownIssuer",
  );
  assert.ok(!error.message.includes("\n"));
});

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
  assert.equal(rest.requests[0]?.path, "/apis/authentication.k8s.io/v1/selfsubjectreviews");
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
