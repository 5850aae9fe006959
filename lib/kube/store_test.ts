import assert from "node:assert/strict";
import type { KubeObject } from "./resource.ts";
import { NAMESPACE_INDEX, objectKey, Store, type StoreChange } from "./store.ts";

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
  store.apply({ type: "initStart" });
  for (const object of objects) store.apply({ type: "initApply", object });
  return store.apply({ type: "initDone" });
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

Deno.test("Store keeps the old contents visible until a relist is done", () => {
  const store = new Store<Thing>();
  store.apply({ type: "apply", object: thing("old", "1") });
  store.apply({ type: "initStart" });
  store.apply({ type: "initApply", object: thing("new", "2") });
  assert.equal(store.initializing, true);
  assert.deepEqual(store.keys(), ["old"]);
  store.apply({ type: "initDone" });
  assert.equal(store.initializing, false);
  assert.deepEqual(store.keys(), ["new"]);
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
