/**
 * One allocation record per cluster. Two installs (different `--namespace`, or two processes
 * with different settings) would each keep their own record and their own Lease, so nothing
 * would arbitrate between them and both would hand out the same ports. The HostPort CRD, which
 * exists once per cluster, carries the anchor: annotation
 * {@linkcode RECORD_ANCHOR_ANNOTATION} names the one record (`<namespace>/<name>`) every
 * allocator must use.
 *
 * Before it allocates, a process reads the anchor: absent, it writes its own record's name by
 * compare-and-swap (the CRD's resourceVersion as precondition), so of two racing installs one
 * wins; equal, it allocates; different, it does not allocate, logs an error and stays not ready
 * with a message that names the other record and the fix, and re-checks periodically so it
 * starts by itself once fixed. While allocating it keeps re-checking: it re-claims an anchor
 * someone removed, and stops its controllers if the anchor ever names another record. A process
 * that has seen another record in the anchor claims a removed anchor only after it stayed absent
 * for {@linkcode ANCHOR_CLAIM_DELAY_FACTOR} re-check periods, so that if the other install still
 * runs (the annotation was removed by mistake), that install re-claims it first. Uninstalling
 * deletes the CRDs, and the anchor with them.
 *
 * - {@linkcode decideRecordAnchor} and {@linkcode recordAnchorConflict}: pure.
 * - {@linkcode RecordAnchor}: reads and claims the anchor.
 * - {@linkcode anchoredLeaderWork}: runs the leader work only while the anchor names our record.
 *
 * @module
 */
import type { CustomResourceDefinition } from "kubernetes-types/apiextensions/v1.d.ts";
import { GROUP, PLURAL } from "../api/constants.ts";
import { CUSTOM_RESOURCE_DEFINITION_RESOURCE } from "../kube/resource.ts";
import { ConflictError, NotFoundError } from "../kube/rest_client.ts";
import { ResourceClient } from "../kube/resource.ts";
import type { RestClient } from "../kube/rest_client.ts";

/** The annotation on the HostPort CRD naming the cluster's one allocation record. */
export const RECORD_ANCHOR_ANNOTATION = `${GROUP}/allocation-record`;

/** The CRD that carries the anchor: the HostPort CRD, one per cluster. */
export const RECORD_ANCHOR_CRD = `${PLURAL.HostPort}.${GROUP}`;

/** How often a process re-checks the anchor, refused or allocating. */
export const DEFAULT_ANCHOR_RECHECK_MS = 10_000;

/**
 * A process that saw another record in the anchor claims it, once removed, only after it stayed
 * absent this many re-check periods: long enough for a still-running holder to re-claim it.
 */
export const ANCHOR_CLAIM_DELAY_FACTOR = 2;

/** What the HostPort CRD says about the anchor. */
export interface AnchorState {
  /** Whether the HostPort CRD exists. */
  crdExists: boolean;
  /** The annotation's value; undefined when absent (or empty). */
  anchor: string | undefined;
}

/** What to do about the anchor. */
export type AnchorDecision =
  /** The anchor names our record: allocate. */
  | { action: "proceed" }
  /** No anchor yet: write ours (compare-and-swap), then allocate. */
  | { action: "claim" }
  /** Do not allocate; `reason` says why and how to fix it. */
  | { action: "refuse"; reason: string };

/** The outcome of {@linkcode RecordAnchor.check}: allowed, or why not and who holds the anchor. */
export type AnchorCheck = true | {
  /** Why this process must not allocate, and the fix. */
  reason: string;
  /** The record the anchor names; undefined when there is no anchor. */
  holder: string | undefined;
};

/** The anchor value of the record `namespace/name`. */
export function recordAnchorValue(record: { namespace: string; name: string }): string {
  return `${record.namespace}/${record.name}`;
}

/**
 * The readiness message of a process whose record is `ours` while the anchor names `other`:
 * what is wrong, and the fix (uninstall the other install; if it is gone, the exact kubectl
 * command that removes the anchor).
 */
export function recordAnchorConflict(ours: string, other: string): string {
  return `Not allocating: another install arbitrates host ports with allocation record ${other} ` +
    `(annotation ${RECORD_ANCHOR_ANNOTATION} on CRD ${RECORD_ANCHOR_CRD}), and this one would use ` +
    `${ours}. Uninstall one of the two installs; if the install that uses ${other} is gone, ` +
    `remove the annotation: kubectl annotate crd ${RECORD_ANCHOR_CRD} ${RECORD_ANCHOR_ANNOTATION}-`;
}

/** The readiness message of a process waiting to claim an anchor that was removed. */
export function recordAnchorRemoved(ours: string): string {
  return `Not allocating yet: annotation ${RECORD_ANCHOR_ANNOTATION} on CRD ${RECORD_ANCHOR_CRD} ` +
    `named another install's allocation record and was removed; this install claims it for ` +
    `${ours} unless that install, if it still runs, claims it back first`;
}

/**
 * Decides what a process whose record is `ours` does, given the CRD's anchor (pure).
 * `claimAbsent` false: an absent anchor is not claimed (yet).
 */
export function decideRecordAnchor(
  state: AnchorState,
  ours: string,
  claimAbsent = true,
): AnchorDecision {
  if (!state.crdExists) {
    return {
      action: "refuse",
      reason: `Not allocating: CRD ${RECORD_ANCHOR_CRD} is not installed, so the allocation ` +
        `record cannot be anchored`,
    };
  }
  if (state.anchor === undefined) {
    return claimAbsent
      ? { action: "claim" }
      : { action: "refuse", reason: recordAnchorRemoved(ours) };
  }
  if (state.anchor === ours) return { action: "proceed" };
  return { action: "refuse", reason: recordAnchorConflict(ours, state.anchor) };
}

/** How many times a lost compare-and-swap is retried within one check. */
const MAX_CLAIM_ATTEMPTS = 5;

/** Reads and claims the anchor for one record. */
export class RecordAnchor {
  /** Our anchor value, `<namespace>/<name>` of our record. */
  readonly value: string;
  #crds: ResourceClient<CustomResourceDefinition>;
  #readiness: true | string = true; // a standby never checks; the leader's first check decides

  /** An anchor for the record `namespace/name`, read and written through `client`. */
  constructor(client: RestClient, record: { namespace: string; name: string }) {
    this.value = recordAnchorValue(record);
    this.#crds = new ResourceClient(client, CUSTOM_RESOURCE_DEFINITION_RESOURCE);
  }

  /**
   * Reads the anchor and claims it when absent (unless `claimAbsent` is false). Resolves `true`
   * when it names our record (now), otherwise why this process must not allocate.
   *
   * @throws the `lib/kube` error family when the CRD cannot be read or written
   */
  async check(options: { claimAbsent?: boolean } = {}): Promise<AnchorCheck> {
    let holder: string | undefined;
    for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
      const crd = await this.#read();
      holder = crd?.metadata?.annotations?.[RECORD_ANCHOR_ANNOTATION] || undefined;
      const state: AnchorState = { crdExists: crd !== undefined, anchor: holder };
      const decision = decideRecordAnchor(state, this.value, options.claimAbsent ?? true);
      if (decision.action === "proceed") return this.#settle(true);
      if (decision.action === "refuse") return this.#settle({ reason: decision.reason, holder });
      if (await this.#claim(crd!)) return this.#settle(true);
    }
    return this.#settle({
      reason: "Not allocating: the allocation record's anchor keeps changing",
      holder,
    });
  }

  /**
   * The readiness verdict of the last check that read the anchor: `true` when this process may
   * allocate (also before the first check, and unchanged by a check that failed: a blip of the
   * API server must not take the webhook out of its Service).
   */
  readiness(): true | string {
    return this.#readiness;
  }

  #settle(verdict: AnchorCheck): AnchorCheck {
    this.#readiness = verdict === true ? true : verdict.reason;
    return verdict;
  }

  async #read(): Promise<CustomResourceDefinition | undefined> {
    try {
      return await this.#crds.get(RECORD_ANCHOR_CRD);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  /** Writes our anchor if the CRD is unchanged since `crd` was read; false when it changed. */
  async #claim(crd: CustomResourceDefinition): Promise<boolean> {
    try {
      await this.#crds.patch(RECORD_ANCHOR_CRD, {
        type: "merge",
        body: {
          metadata: {
            resourceVersion: crd.metadata?.resourceVersion,
            annotations: { [RECORD_ANCHOR_ANNOTATION]: this.value },
          },
        },
      });
      return true;
    } catch (error) {
      if (error instanceof ConflictError) return false; // someone wrote first: read again
      throw error;
    }
  }
}

/** The leader work `anchoredLeaderWork` starts and stops (`ControllerRun` of `lib/ops`). */
export interface LeaderWork {
  /** Resolves once the work is serving (caches synced); `false` when stopped first. */
  synced: Promise<unknown>;
  /** Stops the work. */
  stop(): Promise<void>;
}

/** The log lines `anchoredLeaderWork` writes. */
export interface AnchorLogger {
  /** Normal operation. */
  info(message: string, fields?: Record<string, unknown>): void;
  /** A failure that needs attention. */
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Options of {@linkcode anchoredLeaderWork}. */
export interface AnchoredLeaderWorkOptions {
  /** The anchor of this process's record. */
  anchor: Pick<RecordAnchor, "check" | "value">;
  /** Starts the allocating work (allocator, repair, controllers). */
  start: () => Promise<LeaderWork>;
  /** Logger. */
  logger: AnchorLogger;
  /** How often to re-check the anchor; default {@linkcode DEFAULT_ANCHOR_RECHECK_MS}. */
  recheckMs?: number;
  /** Clock for the claim delay, in ms; default `Date.now`. */
  now?: () => number;
}

/**
 * Leader work that runs only while the anchor names this process's record. Returns at once (so
 * the caller keeps renewing its Lease): checks the anchor, starts the work once it names our
 * record, and re-checks every `recheckMs`, stopping the work if the anchor comes to name another
 * record. Once it has seen another record in the anchor, it claims a removed anchor only after
 * it stayed absent {@linkcode ANCHOR_CLAIM_DELAY_FACTOR} times `recheckMs`. `synced` resolves once
 * the work first synced (`false` when stopped first).
 */
export function anchoredLeaderWork(options: AnchoredLeaderWorkOptions): LeaderWork {
  const { anchor, logger } = options;
  const recheckMs = options.recheckMs ?? DEFAULT_ANCHOR_RECHECK_MS;
  const now = options.now ?? Date.now;
  let sawOther = false; // the anchor named another record since we last held it
  let absentSince: number | undefined;
  const stopping = new AbortController();
  const synced = Promise.withResolvers<unknown>();
  let work: LeaderWork | undefined;
  let lastProblem: string | undefined;

  const pause = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, recheckMs);
      function done() {
        clearTimeout(timer);
        stopping.signal.removeEventListener("abort", done);
        resolve();
      }
      stopping.signal.addEventListener("abort", done, { once: true });
    });

  const report = (problem: string | undefined) => {
    if (problem !== undefined && problem !== lastProblem) {
      logger.error("Not allocating", { anchor: anchor.value, reason: problem });
    }
    lastProblem = problem;
  };

  const loop = (async () => {
    while (!stopping.signal.aborted) {
      const claimAbsent = !sawOther ||
        (absentSince !== undefined && now() - absentSince >= ANCHOR_CLAIM_DELAY_FACTOR * recheckMs);
      let verdict: AnchorCheck;
      try {
        verdict = await anchor.check({ claimAbsent });
      } catch (error) {
        // Cannot read the anchor: keep what runs (it was allowed), start nothing new.
        report(`Cannot check the allocation record's anchor: ${describeError(error)}`);
        await pause();
        continue;
      }
      if (stopping.signal.aborted) break;
      if (verdict === true) {
        sawOther = false;
        absentSince = undefined;
      } else if (verdict.holder === undefined) {
        absentSince ??= now();
      } else {
        sawOther = true;
        absentSince = undefined;
      }
      if (verdict === true && work === undefined) {
        report(undefined);
        logger.info("Allocation record anchored", { anchor: anchor.value });
        try {
          const started = await options.start();
          work = started;
          started.synced.then((value) => synced.resolve(value), () => synced.resolve(false));
        } catch (error) {
          report(`Cannot start allocating: ${describeError(error)}`);
        }
      } else if (verdict !== true) {
        report(verdict.reason);
        if (work !== undefined) {
          await work.stop();
          work = undefined;
        }
      }
      await pause();
    }
  })();

  return {
    synced: synced.promise,
    stop: async () => {
      stopping.abort();
      await loop;
      synced.resolve(false);
      await work?.stop();
      work = undefined;
    },
  };
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
