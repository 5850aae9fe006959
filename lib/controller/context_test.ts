import assert from "node:assert/strict";
import { OwnWrites } from "./context.ts";

Deno.test("OwnWrites.isBehind() is true while the cache shows the version a write started from", () => {
  const writes = new OwnWrites();
  writes.note("ns/a", "10");
  assert.equal(writes.isBehind("ns/a", "10"), true);
  assert.equal(writes.isBehind("ns/a", "10"), true);
  assert.equal(writes.isBehind("ns/b", "10"), false);
});

Deno.test("OwnWrites.isBehind() forgets a key once the cache shows another version", () => {
  const writes = new OwnWrites();
  writes.note("ns/a", "10");
  assert.equal(writes.isBehind("ns/a", "11"), false);
  assert.equal(writes.isBehind("ns/a", "10"), false);
});

Deno.test("OwnWrites.note() ignores a missing version and delete() drops a key", () => {
  const writes = new OwnWrites();
  writes.note("ns/a", undefined);
  assert.equal(writes.isBehind("ns/a", undefined), false);
  writes.note("ns/a", "7");
  writes.delete("ns/a");
  assert.equal(writes.isBehind("ns/a", "7"), false);
});
