import assert from "node:assert/strict";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { fakeClock } from "../../tests/fake_clock.ts";
import { POD_RESOURCE } from "./resource.ts";
import { kubeApiErrorFromStatus } from "./rest_client.ts";
import {
  Informer,
  type InformerOptions,
  NAMESPACE_INDEX,
  objectKey,
  Store,
  type StoreChange,
} from "./informer.ts";
import { defineResource, type KubeObject, ResourceClient } from "./resource.ts";
import type { RequestOptions, RestClient } from "./rest_client.ts";

// A scripted API server at the RestClient seam: lists answer from `objects`, each watch
// gets a stream the test pushes events into.
class ScriptedApi {
  objects = new Map<string, unknown>();
  resourceVersion = 10;
  listCalls: URLSearchParams[] = [];
  watchCalls: URLSearchParams[] = [];
  failLists = 0;
  streams: ReadableStreamDefaultController<unknown>[] = [];

  rest(): RestClient {
    return { performRequest: (opts: RequestOptions) => this.#handle(opts) } as RestClient;
  }

  #handle(opts: RequestOptions): Promise<unknown> {
    const query = opts.querystring ?? new URLSearchParams();
    if (query.get("watch") !== "true") {
      this.listCalls.push(query);
      if (this.failLists > 0) {
        this.failLists--;
        return Promise.reject(kubeApiErrorFromStatus({ code: 500, reason: "InternalError" }));
      }
      const metadata = { resourceVersion: String(this.resourceVersion) };
      return Promise.resolve({ kind: "PodList", metadata, items: [...this.objects.values()] });
    }
    this.watchCalls.push(query);
    const stream = new ReadableStream<unknown>({
      start: (controller) => {
        this.streams.push(controller);
        const signal = opts.abortSignal;
        if (signal?.aborted) controller.error(signal.reason);
        signal?.addEventListener("abort", () => controller.error(signal.reason));
      },
    });
    return Promise.resolve(stream);
  }

  put(name: string): unknown {
    const object = {
      metadata: { name, namespace: "ns", resourceVersion: String(++this.resourceVersion) },
    };
    this.objects.set(name, object);
    return object;
  }

  send(event: unknown): void {
    this.streams.at(-1)!.enqueue(event);
  }
}

function setup(options: Partial<InformerOptions<Pod>> = {}) {
  const api = new ScriptedApi();
  const time = fakeClock();
  const informer = new Informer(new ResourceClient(api.rest(), POD_RESOURCE), {
    clock: time.clock,
    random: () => 0.5,
    watchTimeoutSeconds: 300,
    stallTimeoutMs: 10_000,
    ...options,
  });
  const log: string[] = [];
  informer.addEventHandler({
    onAdd: (p) => log.push(`add ${p.metadata?.name}@${p.metadata?.resourceVersion}`),
    onUpdate: (_o, p) => log.push(`update ${p.metadata?.name}@${p.metadata?.resourceVersion}`),
    onDelete: (p) => log.push(`delete ${p.metadata?.name}`),
  });
  return { api, informer, log, ...time };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("Informer lists, syncs, applies watch events and resumes after a clean close", async () => {
  const { api, informer, log } = setup();
  api.put("a");
  informer.start();
  assert.equal(await informer.synced, true);
  await tick();
  assert.equal(api.watchCalls[0]?.get("resourceVersion"), "11");
  assert.equal(api.watchCalls[0]?.get("allowWatchBookmarks"), "true");

  api.send({ type: "ADDED", object: api.put("b") });
  api.send({ type: "MODIFIED", object: api.put("a") });
  api.send({ type: "BOOKMARK", object: { metadata: { resourceVersion: "20" } } });
  api.streams.at(-1)!.close(); // the server ends the watch (timeoutSeconds)
  await tick();
  await tick();
  assert.deepEqual(log, ["add a@11", "add b@12", "update a@13"]);
  assert.equal(api.watchCalls.length, 2);
  assert.equal(api.watchCalls[1]?.get("resourceVersion"), "20", "resumed from the bookmark");
  assert.equal(api.listCalls.length, 1, "no relist");
  assert.deepEqual(informer.store.keys().sort(), ["ns/a", "ns/b"]);
  await informer.stop();
});

Deno.test("Informer tells handlers added after the sync about every cached object first", async () => {
  const { api, informer } = setup();
  api.put("a");
  api.put("b");
  informer.start();
  assert.equal(await informer.synced, true);
  const late: string[] = [];
  const remove = informer.addEventHandler({
    onAdd: (p) => late.push(`add ${p.metadata?.name}`),
    onUpdate: (_o, p) => late.push(`update ${p.metadata?.name}`),
  });
  assert.deepEqual(late.sort(), ["add a", "add b"]);
  await tick();
  api.send({ type: "MODIFIED", object: api.put("a") });
  await tick();
  remove();
  api.send({ type: "MODIFIED", object: api.put("b") });
  await tick();
  assert.deepEqual(late.sort(), ["add a", "add b", "update a"]);
  await informer.stop();
});

Deno.test("Informer relists after a 410 and reports objects that vanished meanwhile", async () => {
  const { api, informer, log } = setup();
  api.put("a");
  api.put("b");
  informer.start();
  await informer.synced;
  await tick();
  api.objects.delete("a");
  api.put("c");
  api.send({
    type: "ERROR",
    object: { kind: "Status", code: 410, reason: "Expired", message: "too old resource version" },
  });
  await tick();
  await tick();
  assert.equal(api.listCalls.length, 2);
  assert.deepEqual(log.slice(2), ["delete a", "add c@13"]);
  assert.equal(api.watchCalls.at(-1)?.get("resourceVersion"), "13");
  await informer.stop();
});

Deno.test("Informer aborts a silent watch after the stall limit and rewatches without a relist", async () => {
  const { api, informer, fake } = setup({ stallTimeoutMs: 10_000 });
  informer.start();
  await informer.synced;
  await tick();
  await fake.tickAsync(9_999);
  assert.equal(api.watchCalls.length, 1);
  await fake.tickAsync(1);
  await tick();
  assert.equal(api.watchCalls.length, 2);
  assert.equal(api.listCalls.length, 1);
  await informer.stop();
});

Deno.test("Informer backs off with jitter after errors and reports them", async () => {
  const errors: number[] = [];
  const { api, informer, fake } = setup({
    backoff: { initialMs: 1000, maxMs: 60_000, jitter: 0.5 },
    onError: (_error, context) => errors.push(context.retryInMs),
  });
  api.failLists = 2;
  informer.start();
  await tick();
  assert.deepEqual(errors, [750], "1000 ms with half of it random (random = 0.5)");
  await fake.tickAsync(749);
  assert.equal(api.listCalls.length, 1);
  await fake.tickAsync(1);
  assert.deepEqual(errors, [750, 1500]);
  await fake.tickAsync(1500);
  assert.equal(await informer.synced, true);
  assert.equal(api.listCalls.length, 3);
  await informer.stop();
});

Deno.test("Informer.stop() ends the watch, clears timers, and resolves synced false before a sync", async () => {
  const { api, informer, fake } = setup();
  informer.start();
  await informer.synced;
  await tick();
  assert.ok(fake.countTimers() > 0, "the stall timer runs during a watch");
  await informer.stop();
  assert.equal(fake.countTimers(), 0);
  assert.equal(api.watchCalls.length, 1);

  const never = setup();
  never.api.failLists = 100;
  never.informer.start();
  await tick();
  await never.informer.stop();
  assert.equal(await never.informer.synced, false);
  assert.equal(never.fake.countTimers(), 0);
});

Deno.test("Informer keeps going when a handler throws", async () => {
  const errors: unknown[] = [];
  const { api, informer, log } = setup({ onError: (error) => errors.push(error) });
  informer.addEventHandler({
    onAdd: () => {
      throw new Error("handler bug");
    },
  });
  api.put("a");
  informer.start();
  await informer.synced;
  assert.deepEqual(log, ["add a@11"]);
  assert.equal((errors[0] as Error).message, "handler bug");
  await informer.stop();
});

Deno.test("Informer backs off only when a watch closes at once without events", async () => {
  const { api, informer, fake } = setup({ backoff: { initialMs: 1000, maxMs: 60_000, jitter: 0 } });
  informer.start();
  await informer.synced;
  await tick();
  api.streams.at(-1)!.close(); // closed at once, nothing sent
  await tick();
  await tick();
  assert.equal(api.watchCalls.length, 1, "waits before the next watch");
  await fake.tickAsync(1000);
  assert.equal(api.watchCalls.length, 2);

  await fake.tickAsync(5000); // a quiet but healthy watch
  api.streams.at(-1)!.close();
  await tick();
  await tick();
  assert.equal(api.watchCalls.length, 3, "rewatched at once");
  await informer.stop();
});

// A kind whose objects need a numeric `spec.size`, so a test can send objects that do not decode.
interface Widget extends KubeObject {
  spec: { size: number };
}
const WIDGET_RESOURCE = defineResource<Widget>({
  group: "example.com",
  version: "v1",
  kind: "Widget",
  plural: "widgets",
  namespaced: true,
  schema: {
    parse(value: unknown): Widget {
      const size = (value as { spec?: { size?: unknown } }).spec?.size;
      if (typeof size !== "number") throw new TypeError("spec.size must be a number");
      return value as Widget;
    },
  },
});

function widgetSetup(options: Partial<InformerOptions<Widget>> = {}) {
  const api = new ScriptedApi();
  const time = fakeClock();
  const undecodable: string[] = [];
  const quarantineSizes: number[] = [];
  const informer = new Informer(new ResourceClient(api.rest(), WIDGET_RESOURCE), {
    clock: time.clock,
    random: () => 0.5,
    watchTimeoutSeconds: 300,
    stallTimeoutMs: 10_000,
    onUndecodable: (object, error) => {
      const metadata = object.metadata as { name: string; resourceVersion: string };
      undecodable.push(`${metadata.name}@${metadata.resourceVersion}: ${error.message}`);
    },
    onQuarantineChanged: (quarantined) => quarantineSizes.push(quarantined.size),
    ...options,
  });
  const log: string[] = [];
  informer.addEventHandler({
    onAdd: (w) => log.push(`add ${w.metadata?.name}@${w.metadata?.resourceVersion}`),
    onUpdate: (_o, w) => log.push(`update ${w.metadata?.name}@${w.metadata?.resourceVersion}`),
    onDelete: (w) => log.push(`delete ${w.metadata?.name}`),
  });
  /** Stores (and returns) a widget; `size` undefined makes it undecodable. */
  const widget = (name: string, size?: number): unknown => {
    const object = {
      apiVersion: "example.com/v1",
      kind: "Widget",
      metadata: { name, namespace: "ns", resourceVersion: String(++api.resourceVersion) },
      spec: size === undefined ? {} : { size },
    };
    api.objects.set(name, object);
    return object;
  };
  return { api, informer, log, undecodable, quarantineSizes, widget, ...time };
}

Deno.test("Informer syncs past an object that does not decode and quarantines it", async () => {
  const { informer, log, undecodable, quarantineSizes, widget } = widgetSetup();
  widget("good", 1);
  widget("bad");
  informer.start();
  assert.equal(await informer.synced, true);
  assert.deepEqual(log, ["add good@11"]);
  assert.deepEqual(informer.store.keys(), ["ns/good"]);
  assert.deepEqual([...informer.quarantined.keys()], ["ns/bad"]);
  const entry = informer.quarantined.get("ns/bad")!;
  assert.equal(entry.resourceVersion, "12");
  assert.match(entry.reason, /^Cannot decode Widget "bad": spec\.size must be a number$/);
  assert.deepEqual((entry.raw.metadata as { name: string }).name, "bad");
  assert.deepEqual(undecodable, [`bad@12: ${entry.reason}`]);
  assert.deepEqual(quarantineSizes, [1]);
  await informer.stop();
});

Deno.test("Informer moves an object into quarantine and back on watch events", async () => {
  const { api, informer, log, undecodable, quarantineSizes, widget } = widgetSetup();
  widget("a", 1);
  informer.start();
  await informer.synced;
  await tick();
  api.send({ type: "MODIFIED", object: widget("a") }); // a bad update of a cached object
  await tick();
  assert.deepEqual(log, ["add a@11", "delete a"]);
  assert.equal(informer.store.size, 0);
  assert.equal(informer.quarantined.get("ns/a")?.resourceVersion, "12");
  api.send({ type: "MODIFIED", object: widget("a", 2) }); // fixed
  await tick();
  assert.deepEqual(log, ["add a@11", "delete a", "add a@13"]);
  assert.equal(informer.quarantined.size, 0);
  api.send({ type: "ADDED", object: widget("b") });
  api.send({ type: "DELETED", object: widget("b") });
  await tick();
  assert.equal(informer.quarantined.size, 0, "a deleted undecodable object leaves quarantine");
  assert.deepEqual(undecodable.map((line) => line.split(":")[0]), ["a@12", "b@14"]);
  assert.deepEqual(quarantineSizes, [1, 0, 1, 0]);
  await informer.stop();
});

Deno.test("Informer resumes the next watch after an undecodable event, not before it", async () => {
  const { api, informer, widget } = widgetSetup();
  informer.start();
  await informer.synced;
  await tick();
  api.send({ type: "ADDED", object: widget("bad") });
  await tick();
  api.streams.at(-1)!.close();
  await tick();
  await tick();
  assert.equal(api.watchCalls.length, 2);
  assert.equal(api.watchCalls[1]?.get("resourceVersion"), "11", "after the bad event");
  assert.equal(api.listCalls.length, 1, "no relist");
  await informer.stop();
});

Deno.test("Informer resumes after the last event it applied when a watch fails", async () => {
  const { api, informer, log, fake, widget } = widgetSetup({
    backoff: { initialMs: 1000, maxMs: 60_000, jitter: 0 },
  });
  informer.start();
  await informer.synced;
  await tick();
  api.send({ type: "ADDED", object: widget("a", 1) });
  api.send({
    type: "ERROR",
    object: { kind: "Status", code: 500, reason: "InternalError", message: "boom" },
  });
  await tick();
  await tick();
  await fake.tickAsync(1000);
  assert.equal(api.watchCalls.length, 2);
  assert.equal(api.watchCalls[1]?.get("resourceVersion"), "11", "after the applied event");
  assert.deepEqual(log, ["add a@11"]);
  await informer.stop();
});

Deno.test("Informer reports an undecodable object once per resourceVersion across relists", async () => {
  const { api, informer, undecodable, quarantineSizes, widget } = widgetSetup();
  widget("bad");
  informer.start();
  await informer.synced;
  await tick();
  const gone = {
    type: "ERROR",
    object: { kind: "Status", code: 410, reason: "Expired", message: "too old resource version" },
  };
  api.send(gone);
  await tick();
  await tick();
  assert.equal(api.listCalls.length, 2);
  assert.deepEqual(undecodable.map((line) => line.split(":")[0]), ["bad@11"]);
  widget("bad"); // a new version, still bad
  api.send(gone);
  await tick();
  await tick();
  assert.equal(api.listCalls.length, 3);
  assert.deepEqual(undecodable.map((line) => line.split(":")[0]), ["bad@11", "bad@12"]);
  widget("bad", 3); // fixed while no watch saw it: the relist takes it out of quarantine
  api.send(gone);
  await tick();
  await tick();
  assert.equal(informer.quarantined.size, 0);
  assert.deepEqual(informer.store.keys(), ["ns/bad"]);
  assert.deepEqual(quarantineSizes, [1, 1, 0]);
  await informer.stop();
});

Deno.test("Informer quarantines an object before telling handlers it left the cache", async () => {
  const { api, informer, widget } = widgetSetup();
  const seen: string[] = [];
  informer.addEventHandler({
    onDelete: (w) =>
      seen.push(`${w.metadata?.name} ${informer.quarantined.has("ns/" + w.metadata?.name)}`),
  });
  widget("a", 1);
  widget("b", 1);
  informer.start();
  await informer.synced;
  await tick();
  api.send({ type: "MODIFIED", object: widget("a") }); // bad on the watch
  await tick();
  widget("b"); // bad in a relist
  api.send({
    type: "ERROR",
    object: { kind: "Status", code: 410, reason: "Expired", message: "too old resource version" },
  });
  await tick();
  await tick();
  assert.deepEqual(seen, ["a true", "b true"]);
  await informer.stop();
});

interface Thing extends KubeObject {
  metadata: { name: string; namespace?: string; resourceVersion: string };
  spec?: { claim?: string };
}

function thing(name: string, rv: string, extra: { ns?: string; claim?: string } = {}): Thing {
  const metadata: Thing["metadata"] = { name, resourceVersion: rv };
  if (extra.ns) metadata.namespace = extra.ns;
  return extra.claim ? { metadata, spec: { claim: extra.claim } } : { metadata };
}

function summary(changes: StoreChange<Thing>[]): string[] {
  return changes.map((c) =>
    `${c.type} ${objectKey(c.object)}@${c.object.metadata.resourceVersion}`
  );
}

function relist(store: Store<Thing>, objects: Thing[]): StoreChange<Thing>[] {
  return store.apply({ type: "replace", objects });
}

Deno.test("objectKey() is namespace/name, or name for cluster-scoped objects", () => {
  assert.equal(objectKey(thing("a", "1", { ns: "ns1" })), "ns1/a");
  assert.equal(objectKey(thing("a", "1")), "a");
});

Deno.test("Store.apply() reports added, then updated with the previous object", () => {
  const store = new Store<Thing>();
  assert.deepEqual(summary(store.apply({ type: "apply", object: thing("a", "1") })), ["added a@1"]);
  const changes = store.apply({ type: "apply", object: thing("a", "2") });
  assert.deepEqual(summary(changes), ["updated a@2"]);
  assert.equal(changes[0]?.type === "updated" && changes[0].previous.metadata.resourceVersion, "1");
  assert.equal(store.get("a")?.metadata.resourceVersion, "2");
});

Deno.test("Store.apply() of a delete removes the object and reports its last cached state", () => {
  const store = new Store<Thing>();
  store.apply({ type: "apply", object: thing("a", "1", { ns: "x" }) });
  const changes = store.apply({ type: "delete", object: thing("a", "5", { ns: "x" }) });
  assert.deepEqual(summary(changes), ["deleted x/a@1"]);
  assert.equal(store.size, 0);
  assert.deepEqual(store.byIndex(NAMESPACE_INDEX, "x"), []);
});

Deno.test("Store.apply() of a delete for an unknown object still reports it", () => {
  const store = new Store<Thing>();
  assert.deepEqual(summary(store.apply({ type: "delete", object: thing("ghost", "3") })), [
    "deleted ghost@3",
  ]);
});

Deno.test("Store relist emits deletes for vanished objects, adds, and updates only for new versions", () => {
  const store = new Store<Thing>();
  relist(store, [thing("keep", "1"), thing("change", "1"), thing("gone", "1")]);
  const changes = relist(store, [thing("keep", "1"), thing("change", "7"), thing("fresh", "8")]);
  assert.deepEqual(summary(changes).sort(), [
    "added fresh@8",
    "deleted gone@1",
    "updated change@7",
  ]);
  assert.deepEqual(store.keys().sort(), ["change", "fresh", "keep"]);
});

Deno.test("Store relist of an empty list deletes everything", () => {
  const store = new Store<Thing>();
  relist(store, [thing("a", "1"), thing("b", "1")]);
  assert.deepEqual(summary(relist(store, [])).sort(), ["deleted a@1", "deleted b@1"]);
  assert.equal(store.size, 0);
});

Deno.test("Store.byIndex() follows objects across updates, deletes and relists", () => {
  const store = new Store<Thing>({ byClaim: (t) => t.spec?.claim ? [t.spec.claim] : [] });
  store.apply({ type: "apply", object: thing("p1", "1", { ns: "a", claim: "web" }) });
  store.apply({ type: "apply", object: thing("p2", "1", { ns: "b", claim: "web" }) });
  store.apply({ type: "apply", object: thing("p3", "1", { ns: "a", claim: "db" }) });
  const names = (index: string, value: string) => store.byIndex(index, value).map(objectKey).sort();
  assert.deepEqual(names("byClaim", "web"), ["a/p1", "b/p2"]);
  assert.deepEqual(names(NAMESPACE_INDEX, "a"), ["a/p1", "a/p3"]);

  store.apply({ type: "apply", object: thing("p1", "2", { ns: "a", claim: "db" }) });
  assert.deepEqual(names("byClaim", "web"), ["b/p2"]);
  assert.deepEqual(names("byClaim", "db"), ["a/p1", "a/p3"]);

  store.apply({ type: "delete", object: thing("p2", "2", { ns: "b" }) });
  assert.deepEqual(store.indexValues("byClaim").sort(), ["db"]);

  relist(store, [thing("p9", "9", { ns: "c", claim: "web" })]);
  assert.deepEqual(names("byClaim", "web"), ["c/p9"]);
  assert.deepEqual(names("byClaim", "db"), []);
  assert.deepEqual(store.indexValues(NAMESPACE_INDEX), ["c"]);
});

Deno.test("Store.byIndex() throws RangeError for an index that was not configured", () => {
  const store = new Store<Thing>();
  assert.throws(() => store.byIndex("nope", "x"), RangeError);
});

Deno.test("Store.getByName() finds namespaced and cluster-scoped objects", () => {
  const store = new Store<Thing>();
  store.apply({ type: "apply", object: thing("a", "1", { ns: "n" }) });
  store.apply({ type: "apply", object: thing("b", "1") });
  assert.equal(store.getByName("a", "n")?.metadata.name, "a");
  assert.equal(store.getByName("a"), undefined);
  assert.equal(store.getByName("b")?.metadata.name, "b");
  assert.equal(store.list().length, 2);
});
