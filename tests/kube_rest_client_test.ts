/**
 * KubeRestClient's HTTP behaviour against a small local server on 127.0.0.1: headers and
 * bodies on the wire, error bodies that are not a Status, timeouts, unreachable servers, and
 * aborting a streamed response (the server must see the connection end).
 */
import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import { fileURLToPath } from "node:url";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import {
  type ClusterConfig,
  KubeApiError,
  KubeConnectionError,
  KubeRequestTimeoutError,
  KubeRestClient,
  POD_RESOURCE,
  ResourceClient,
} from "../lib/kube/mod.ts";
import { closing } from "./core_clients.ts";

interface Seen {
  method: string;
  url: URL;
  headers: Headers;
  body: string;
}

function serve(handler: (request: Request, seen: Seen) => Response | Promise<Response>) {
  const seen: Seen[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const entry = {
      method: request.method,
      url: new URL(request.url),
      headers: request.headers,
      body: await request.text(),
    };
    seen.push(entry);
    return handler(request, entry);
  });
  const config: ClusterConfig = {
    server: `http://127.0.0.1:${server.addr.port}`,
    auth: { type: "token", token: "t0k" },
  };
  return { server, seen, config };
}

const POD: Pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "a" } };

Deno.test("KubeRestClient sends the token, JSON bodies and the merge patch content type", async () => {
  const { server, seen, config } = serve(() => Response.json(POD));
  using rest = closing(new KubeRestClient(config));
  const pods = new ResourceClient<Pod>(rest, POD_RESOURCE);
  await pods.create({ ...POD });
  await pods.patch("p", { metadata: { labels: { a: "b" } } }, {
    namespace: "a",
  });
  await server.shutdown();

  const [create, patch] = seen;
  assert.equal(create?.headers.get("authorization"), "Bearer t0k");
  assert.equal(create?.headers.get("user-agent"), "hostport-allocator");
  assert.equal(create?.headers.get("content-type"), "application/json");
  assert.equal(create?.url.pathname, "/api/v1/namespaces/a/pods");
  assert.equal(create?.url.search, "");
  assert.deepEqual(JSON.parse(create!.body), POD);
  assert.equal(patch?.method, "PATCH");
  assert.equal(patch?.url.pathname, "/api/v1/namespaces/a/pods/p");
  assert.equal(patch?.headers.get("content-type"), "application/merge-patch+json");
  assert.deepEqual(JSON.parse(patch!.body), { metadata: { labels: { a: "b" } } });
});

Deno.test("KubeRestClient turns an error body that is not a Status into a KubeApiError", async () => {
  const { server, config } = serve(() =>
    new Response("<html>bad gateway</html>", {
      status: 502,
      headers: { "content-type": "text/html" },
    })
  );
  using rest = closing(new KubeRestClient(config));
  await assert.rejects(
    rest.performRequest({ method: "GET", path: "/api/v1/pods" }),
    (error: unknown) => {
      assert.ok(error instanceof KubeApiError);
      assert.equal(error.code, 502);
      assert.equal(error.status.message, "<html>bad gateway</html>");
      return true;
    },
  );
  await server.shutdown();
});

Deno.test("KubeRestClient gives up on a request after its 30 s timeout", async () => {
  const arrived = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  const { server, config } = serve(async () => {
    arrived.resolve();
    await release.promise;
    return Response.json({});
  });
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"] });
  try {
    using rest = closing(new KubeRestClient(config));
    const request = rest.performRequest({ method: "GET", path: "/api/v1/pods" });
    await arrived.promise;
    clock.tick(30_000);
    await assert.rejects(request, (error: unknown) => {
      assert.ok(error instanceof KubeRequestTimeoutError);
      assert.equal(error.message, "Kubernetes API GET /api/v1/pods timed out after 30000 ms");
      return true;
    });
  } finally {
    clock.uninstall();
    release.resolve();
    await server.shutdown();
  }
});

/** A long-lived signal (a controller's) that counts the abort listeners left on it. */
function countedSignal(): { signal: AbortSignal; listeners: () => number } {
  const { signal } = new AbortController();
  const live = new Set<unknown>();
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = (type: string, listener: EventListenerOrEventListenerObject) => {
    live.add(listener);
    add(type, listener);
  };
  signal.removeEventListener = (type: string, listener: EventListenerOrEventListenerObject) => {
    live.delete(listener);
    remove(type, listener);
  };
  return { signal, listeners: () => live.size };
}

Deno.test("finished requests leave nothing on the caller's long-lived signal", async () => {
  const { server, config } = serve((request) =>
    new URL(request.url).pathname === "/missing"
      ? Response.json({ kind: "Status", code: 404, reason: "NotFound" }, { status: 404 })
      : Response.json(POD)
  );
  using rest = closing(new KubeRestClient(config));
  const { signal, listeners } = countedSignal();
  for (let i = 0; i < 20; i++) {
    await rest.performRequest({
      method: "GET",
      path: "/ok",
      abortSignal: signal,
    });
  }
  await assert.rejects(
    rest.performRequest({ method: "GET", path: "/missing", abortSignal: signal }),
    KubeApiError,
  );
  // Each listener left would keep its request's AbortController, signal and timer for as long
  // as the signal lives (the process, for a controller's).
  assert.equal(listeners(), 0);
  await server.shutdown();
});

Deno.test("KubeRestClient names the server it cannot reach", async () => {
  const { server, config } = serve(() => Response.json({}));
  await server.shutdown(); // nothing listens on the port any more
  using rest = closing(new KubeRestClient(config));
  await assert.rejects(
    rest.performRequest({ method: "GET", path: "/version" }),
    (error: unknown) => {
      assert.ok(error instanceof KubeConnectionError);
      assert.match(
        error.message,
        new RegExp(`^Cannot reach the API server at "${config.server}" for GET /version: `),
      );
      return true;
    },
  );
});

Deno.test("aborting a streamed response ends the stream and closes the connection", async () => {
  const serverSawAbort = Promise.withResolvers<void>();
  const { server, config } = serve(() => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        const event = { type: "ADDED", object: POD };
        controller.enqueue(new TextEncoder().encode(`${JSON.stringify(event)}\n`));
        // ...then stay silent, like a quiet watch.
      },
      cancel() {
        serverSawAbort.resolve(); // the client went away
      },
    });
    return new Response(body, { headers: { "content-type": "application/json" } });
  });
  using rest = closing(new KubeRestClient(config));
  const pods = new ResourceClient<Pod>(rest, POD_RESOURCE);
  const abort = new AbortController();
  const types: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const event of pods.watch({ abortSignal: abort.signal })) {
        types.push(event.type);
        abort.abort();
      }
    })(),
    (error: unknown) => error instanceof DOMException && error.name === "AbortError",
  );
  assert.deepEqual(types, ["ADDED"]);
  // The server's response stream is cancelled once the connection is gone.
  let deadline: ReturnType<typeof setTimeout> | undefined;
  const cancelled = await Promise.race([
    serverSawAbort.promise.then(() => true),
    new Promise<boolean>((resolve) => deadline = setTimeout(() => resolve(false), 10_000)),
  ]);
  clearTimeout(deadline);
  assert.equal(cancelled, true, "the server still streams to the aborted client");
  await server.shutdown();
});

Deno.test("an aborted watch ends even after garbage collection ran during it", async () => {
  // Deno 2.9.6 loses the abort of a request whose Response was collected, so the client holds
  // the Response while it reads the body. Only an explicit full collection, in a child process
  // started with --expose-gc, reliably collects it at the point that matters.
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--v8-flags=--expose-gc",
      "--allow-net=127.0.0.1",
      fileURLToPath(new URL("./aborted_watch_gc.ts", import.meta.url)),
    ],
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    stdin: "null",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  assert.equal(new TextDecoder().decode(output.stdout).trim(), "AbortError", stderr);
});
