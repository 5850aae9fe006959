import type { ControllerRun } from "../ops/leader_election.ts";
import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import {
  type AnchorCheck,
  anchoredLeaderWork,
  decideRecordAnchor,
  RECORD_ANCHOR_ANNOTATION,
  RECORD_ANCHOR_CRD,
  recordAnchorConflict,
  recordAnchorRemoved,
} from "./record_anchor.ts";

const OURS = "ns-a/hostport-allocator-allocations";
const OTHER = "ns-b/hostport-allocator-allocations";

Deno.test("decideRecordAnchor() claims an absent anchor, proceeds on ours, refuses another", () => {
  assert.deepEqual(decideRecordAnchor({ crdExists: true, anchor: undefined }, OURS), {
    action: "claim",
  });
  assert.deepEqual(decideRecordAnchor({ crdExists: true, anchor: OURS }, OURS), {
    action: "proceed",
  });
  assert.deepEqual(decideRecordAnchor({ crdExists: true, anchor: OTHER }, OURS), {
    action: "refuse",
    reason: recordAnchorConflict(OURS, OTHER),
  });
  assert.deepEqual(decideRecordAnchor({ crdExists: true, anchor: undefined }, OURS, false), {
    action: "refuse",
    reason: recordAnchorRemoved(OURS),
  });
  const missing = decideRecordAnchor({ crdExists: false, anchor: undefined }, OURS);
  assert.equal(missing.action, "refuse");
  assert.match(missing.action === "refuse" ? missing.reason : "", /is not installed/);
});

Deno.test("recordAnchorConflict() names the other record and the exact fix", () => {
  const message = recordAnchorConflict(OURS, OTHER);
  assert.ok(message.includes(`allocation record ${OTHER}`), message);
  assert.ok(message.includes(`would use ${OURS}`), message);
  assert.ok(
    message.endsWith(`kubectl annotate crd ${RECORD_ANCHOR_CRD} ${RECORD_ANCHOR_ANNOTATION}-`),
    message,
  );
  assert.equal(RECORD_ANCHOR_CRD, "hostports.hostport.rmb938.com");
  assert.equal(RECORD_ANCHOR_ANNOTATION, "hostport.rmb938.com/allocation-record");
});

/** An anchor whose verdicts the test sets, and leader work that records its starts and stops. */
function scripted() {
  let verdict: AnchorCheck | Error = { reason: "refused", holder: OTHER };
  const claimAbsentSeen: boolean[] = [];
  const changes: string[] = [];
  let notify = () => {};
  const changed = () => new Promise<void>((resolve) => notify = resolve);
  const anchor = {
    value: OURS,
    check: (options: { claimAbsent?: boolean } = {}) => {
      claimAbsentSeen.push(options.claimAbsent ?? true);
      return verdict instanceof Error ? Promise.reject(verdict) : Promise.resolve(verdict);
    },
  };
  const start = (): Promise<ControllerRun> => {
    changes.push("start");
    notify();
    return Promise.resolve({
      synced: Promise.resolve(true),
      stop: () => {
        changes.push("stop");
        notify();
        return Promise.resolve();
      },
    });
  };
  const logs: string[] = [];
  const logger = {
    info: (message: string) => logs.push(`info ${message}`),
    error: (message: string, fields?: Record<string, unknown>) =>
      logs.push(`error ${message}: ${fields?.reason}`),
  };
  return {
    anchor,
    start,
    logger,
    logs,
    changes,
    changed,
    claimAbsentSeen,
    set: (next: AnchorCheck | Error) => verdict = next,
  };
}

/** The anchor's re-check period. */
const RECHECK_MS = 10_000;

/** Runs `body` with the global timers and `Date` faked (the leader work sleeps on them). */
async function withFakeTime(
  body: (fake: ReturnType<typeof FakeTimers.install>) => Promise<void>,
): Promise<void> {
  const fake = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  try {
    await body(fake);
  } finally {
    fake.uninstall();
  }
}

Deno.test("anchoredLeaderWork() starts only once the anchor names our record", async () => {
  await withFakeTime(async (fake) => {
    const s = scripted();
    const work = anchoredLeaderWork(s);
    await fake.tickAsync(0);
    assert.deepEqual(s.changes, []);
    s.set(true);
    await fake.tickAsync(RECHECK_MS);
    assert.deepEqual(s.changes, ["start"]);
    assert.equal(await work.synced, true);
    assert.deepEqual(s.logs.slice(0, 1), ["error Not allocating: refused"]);
    await work.stop();
    assert.deepEqual(s.changes, ["start", "stop"]);
  });
});

Deno.test("anchoredLeaderWork() stops the work when the anchor comes to name another record", async () => {
  await withFakeTime(async (fake) => {
    const s = scripted();
    s.set(true);
    const work = anchoredLeaderWork(s);
    await fake.tickAsync(0);
    assert.deepEqual(s.changes, ["start"]);
    s.set({ reason: recordAnchorConflict(OURS, OTHER), holder: OTHER });
    await fake.tickAsync(RECHECK_MS);
    assert.deepEqual(s.changes, ["start", "stop"]);
    assert.ok(s.logs.at(-1)!.includes(`allocation record ${OTHER}`));
    await work.stop();
    assert.deepEqual(s.changes, ["start", "stop"], "nothing left to stop");
  });
});

Deno.test("anchoredLeaderWork() keeps its work running while the anchor cannot be read", async () => {
  await withFakeTime(async (fake) => {
    const s = scripted();
    s.set(true);
    const work = anchoredLeaderWork(s);
    await fake.tickAsync(0);
    s.set(new Error("connection refused"));
    await fake.tickAsync(RECHECK_MS);
    assert.ok(s.logs.some((line) => line.includes("connection refused")), s.logs.join("\n"));
    assert.deepEqual(s.changes, ["start"]);
    await work.stop();
    assert.deepEqual(s.changes, ["start", "stop"]);
  });
});

Deno.test("anchoredLeaderWork() claims a removed anchor only after it stayed absent two periods", async () => {
  await withFakeTime(async (fake) => {
    const s = scripted(); // starts refused: the anchor names another record
    const work = anchoredLeaderWork(s);
    await fake.tickAsync(0);
    s.set({ reason: recordAnchorRemoved(OURS), holder: undefined }); // removed
    await fake.tickAsync(2 * RECHECK_MS); // first seen absent at the first of these checks
    assert.deepEqual(s.claimAbsentSeen, [true, false, false], "not claimed at once");
    await fake.tickAsync(RECHECK_MS);
    assert.deepEqual(s.claimAbsentSeen, [true, false, false, true], "claimed after the delay");
    assert.deepEqual(s.changes, []);
    await work.stop();
  });
});

Deno.test("anchoredLeaderWork() stopped before the anchor allows it resolves synced false", async () => {
  const s = scripted();
  const work = anchoredLeaderWork(s);
  await work.stop();
  assert.equal(await work.synced, false);
  assert.deepEqual(s.changes, []);
});
