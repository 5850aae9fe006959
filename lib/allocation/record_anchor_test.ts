import type { ControllerRun } from "../ops/leader_election.ts";
import assert from "node:assert/strict";
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

Deno.test("anchoredLeaderWork() starts only once the anchor names our record", async () => {
  const s = scripted();
  const work = anchoredLeaderWork({ ...s, recheckMs: 1 });
  const started = s.changed();
  s.set(true);
  await started;
  assert.deepEqual(s.changes, ["start"]);
  assert.equal(await work.synced, true);
  assert.deepEqual(s.logs.slice(0, 1), ["error Not allocating: refused"]);
  await work.stop();
  assert.deepEqual(s.changes, ["start", "stop"]);
});

Deno.test("anchoredLeaderWork() stops the work when the anchor comes to name another record", async () => {
  const s = scripted();
  s.set(true);
  const started = s.changed();
  const work = anchoredLeaderWork({ ...s, recheckMs: 1 });
  await started;
  const stopped = s.changed();
  s.set({ reason: recordAnchorConflict(OURS, OTHER), holder: OTHER });
  await stopped;
  assert.deepEqual(s.changes, ["start", "stop"]);
  assert.ok(s.logs.at(-1)!.includes(`allocation record ${OTHER}`));
  await work.stop();
  assert.deepEqual(s.changes, ["start", "stop"], "nothing left to stop");
});

Deno.test("anchoredLeaderWork() keeps its work running while the anchor cannot be read", async () => {
  const s = scripted();
  s.set(true);
  const started = s.changed();
  const work = anchoredLeaderWork({ ...s, recheckMs: 1 });
  await started;
  s.set(new Error("connection refused"));
  while (!s.logs.some((line) => line.includes("connection refused"))) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assert.deepEqual(s.changes, ["start"]);
  await work.stop();
  assert.deepEqual(s.changes, ["start", "stop"]);
});

Deno.test("anchoredLeaderWork() claims a removed anchor only after it stayed absent two periods", async () => {
  const s = scripted(); // starts refused: the anchor names another record
  let clock = 0;
  const work = anchoredLeaderWork({ ...s, recheckMs: 1, now: () => clock });
  while (s.claimAbsentSeen.length < 1) await new Promise((resolve) => setTimeout(resolve, 1));
  s.set({ reason: recordAnchorRemoved(OURS), holder: undefined }); // removed
  const seen = s.claimAbsentSeen.length;
  while (s.claimAbsentSeen.length < seen + 3) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assert.ok(s.claimAbsentSeen.slice(seen).every((claim) => !claim), "not claimed at once");
  clock = 2; // two re-check periods of absence
  const later = s.claimAbsentSeen.length;
  while (s.claimAbsentSeen.length < later + 2) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assert.equal(s.claimAbsentSeen.at(-1), true, "claimed after the delay");
  assert.deepEqual(s.changes, []);
  await work.stop();
});

Deno.test("anchoredLeaderWork() stopped before the anchor allows it resolves synced false", async () => {
  const s = scripted();
  const work = anchoredLeaderWork({ ...s, recheckMs: 60_000 });
  await work.stop();
  assert.equal(await work.synced, false);
  assert.deepEqual(s.changes, []);
});
