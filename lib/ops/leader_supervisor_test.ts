import assert from "node:assert/strict";
import type { Logger } from "./contracts.ts";
import type { HoldOutcome } from "./leader_elector.ts";
import {
  type ControllerRun,
  type Elector,
  LeaderSupervisor,
  settlesWithin,
} from "./leader_supervisor.ts";

const QUIET: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => QUIET };

/** An elector driven by the test: it grants, revokes and records releases. */
class ScriptedElector implements Elector {
  log: string[];
  #grant: (() => void) | undefined;
  #lose: ((outcome: HoldOutcome) => void) | undefined;
  constructor(log: string[]) {
    this.log = log;
  }
  acquire(signal: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      this.#grant = () => resolve(true);
      signal.addEventListener("abort", () => resolve(false));
    });
  }
  holdUntilLost(signal: AbortSignal): Promise<HoldOutcome> {
    return new Promise((resolve) => {
      this.#lose = resolve;
      signal.addEventListener("abort", () => resolve("stopped"));
    });
  }
  release(): Promise<boolean> {
    this.log.push("release");
    return Promise.resolve(true);
  }
  grant(): void {
    this.#grant?.();
  }
  lose(): void {
    this.#lose?.("lost");
  }
}

function controllers(log: string[], options: { stuck?: boolean } = {}) {
  let markSynced!: () => void;
  let runs = 0;
  const start = (): ControllerRun => {
    const id = ++runs;
    log.push(`start ${id}`);
    return {
      synced: new Promise<boolean>((resolve) => markSynced = () => resolve(true)),
      stop: () => {
        log.push(`stop ${id}`);
        return options.stuck ? new Promise(() => {}) : Promise.resolve();
      },
    };
  };
  return { start, synced: () => markSynced() };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("LeaderSupervisor without an elector runs the controllers until stopped", async () => {
  const log: string[] = [];
  const fake = controllers(log);
  const supervisor = new LeaderSupervisor({
    elector: undefined,
    start: fake.start,
    stopTimeoutMs: 1_000,
    logger: QUIET,
  });
  const stop = new AbortController();
  const running = supervisor.run(stop.signal);
  await tick();
  assert.equal(supervisor.readiness(), "informer caches have not synced yet");
  fake.synced();
  await tick();
  assert.equal(supervisor.readiness(), true);
  stop.abort();
  assert.equal(await running, "stopped");
  assert.deepEqual(log, ["start 1", "stop 1"]);
});

Deno.test("LeaderSupervisor runs controllers only while leading and restarts them after a lost lease", async () => {
  const log: string[] = [];
  const elector = new ScriptedElector(log);
  const fake = controllers(log);
  const supervisor = new LeaderSupervisor({
    elector,
    start: fake.start,
    stopTimeoutMs: 1_000,
    logger: QUIET,
  });
  const stop = new AbortController();
  const running = supervisor.run(stop.signal);
  await tick();
  assert.equal(supervisor.running, false);
  assert.equal(supervisor.readiness(), true, "a standby is ready");
  elector.grant();
  await tick();
  assert.equal(supervisor.readiness(), "informer caches have not synced yet");
  fake.synced();
  await tick();
  assert.equal(supervisor.readiness(), true);
  elector.lose();
  await tick();
  assert.equal(supervisor.running, false);
  elector.grant();
  await tick();
  stop.abort();
  assert.equal(await running, "stopped");
  assert.deepEqual(log, ["start 1", "stop 1", "start 2", "stop 2", "release"]);
});

Deno.test("LeaderSupervisor reports stuck controllers and still releases the lease on shutdown", async () => {
  const log: string[] = [];
  const elector = new ScriptedElector(log);
  const fake = controllers(log, { stuck: true });
  const supervisor = new LeaderSupervisor({
    elector,
    start: fake.start,
    stopTimeoutMs: 20,
    logger: QUIET,
  });
  const stop = new AbortController();
  const running = supervisor.run(stop.signal);
  await tick();
  elector.grant();
  await tick();
  stop.abort();
  assert.equal(await running, "stuck");
  assert.deepEqual(log, ["start 1", "stop 1", "release"]);
});

Deno.test("LeaderSupervisor releases the lease when the controllers cannot start", async () => {
  const log: string[] = [];
  const elector = new ScriptedElector(log);
  const supervisor = new LeaderSupervisor({
    elector,
    start: () => Promise.reject(new Error("no CRDs")),
    stopTimeoutMs: 1_000,
    logger: QUIET,
  });
  const running = supervisor.run(new AbortController().signal);
  await tick();
  elector.grant();
  await assert.rejects(running, /no CRDs/);
  assert.deepEqual(log, ["release"]);
});

Deno.test("settlesWithin() tells a settled promise from a stuck one", async () => {
  assert.equal(await settlesWithin(Promise.reject(new Error("x")), 50), true);
  assert.equal(await settlesWithin(new Promise(() => {}), 10), false);
});
