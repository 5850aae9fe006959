/** The anchor of the cluster's one allocation record (docs/architecture.md, rule 8). @module */
import type { CustomResourceDefinition } from "kubernetes-types/apiextensions/v1.d.ts";
import { GROUP, PLURAL } from "../api/constants.ts";
import { sleep, SYSTEM_CLOCK } from "../kube/clock.ts";
import { CUSTOM_RESOURCE_DEFINITION_RESOURCE, ResourceClient } from "../kube/resource.ts";
import { errorMessage } from "../api/types.ts";
import { ConflictError, orUndefined, type RestClient } from "../kube/rest_client.ts";
import type { Logger } from "../ops/contracts.ts";
import type { ControllerRun } from "../ops/leader_election.ts";

/** The annotation on the HostPort CRD naming the cluster's one allocation record. */
export const RECORD_ANCHOR_ANNOTATION = `${GROUP}/allocation-record`;

/** The CRD that carries the anchor: the HostPort CRD, one per cluster. */
export const RECORD_ANCHOR_CRD = `${PLURAL.HostPort}.${GROUP}`;

const ANCHOR_RECHECK_MS = 10_000;

/** Re-check periods a removed anchor must stay absent before a process that saw another claims it. */
const ANCHOR_CLAIM_DELAY_FACTOR = 2;

/** Lost compare-and-swaps retried within one check. */
const MAX_CLAIM_ATTEMPTS = 5;

/**
 * The outcome of {@linkcode RecordAnchor.check}: allowed, or why not (and the fix) and the record
 * the anchor names (undefined: no anchor).
 */
export type AnchorCheck = true | { reason: string; holder: string | undefined };

/** The readiness message, and the fix, when our record is `ours` and the anchor names `other`. */
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
 * What a process whose record is `ours` does, given the CRD's anchor (pure): `proceed` (it names
 * ours), `claim` (absent, and `claimAbsent`), or `refuse` with the reason.
 */
export function decideRecordAnchor(
  state: { crdExists: boolean; anchor: string | undefined },
  ours: string,
  claimAbsent = true,
): { action: "proceed" | "claim" } | { action: "refuse"; reason: string } {
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

/** Reads and claims the anchor for one record. */
export class RecordAnchor {
  /** Our anchor value, `<namespace>/<name>` of our record. */
  readonly value: string;
  #crds: ResourceClient<CustomResourceDefinition>;
  #readiness: true | string = true; // a standby never checks; the leader's first check decides

  /** An anchor for the record `namespace/name`, read and written through `client`. */
  constructor(client: RestClient, record: { namespace: string; name: string }) {
    this.value = `${record.namespace}/${record.name}`;
    this.#crds = new ResourceClient(client, CUSTOM_RESOURCE_DEFINITION_RESOURCE);
  }

  /**
   * Reads the anchor and claims it when absent (unless `claimAbsent` is false): `true` when it
   * names our record (now), otherwise why this process must not allocate.
   *
   * @throws the `lib/kube` error family when the CRD cannot be read or written
   */
  async check({ claimAbsent = true }: { claimAbsent?: boolean } = {}): Promise<AnchorCheck> {
    let verdict: AnchorCheck | undefined;
    let holder: string | undefined;
    for (let attempt = 0; verdict === undefined && attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
      const crd = await orUndefined(this.#crds.get(RECORD_ANCHOR_CRD));
      holder = crd?.metadata?.annotations?.[RECORD_ANCHOR_ANNOTATION] || undefined;
      const state = { crdExists: crd !== undefined, anchor: holder };
      const decision = decideRecordAnchor(state, this.value, claimAbsent);
      if (decision.action === "refuse") verdict = { reason: decision.reason, holder };
      else if (decision.action === "proceed" || await this.#claim(crd!)) verdict = true;
    }
    verdict ??= { reason: "Not allocating: the allocation record's anchor keeps changing", holder };
    this.#readiness = verdict === true ? true : verdict.reason;
    return verdict;
  }

  /**
   * The verdict of the last check that read the anchor (`true` before the first; a failed check
   * changes nothing: a blip of the API server must not take the webhook out of its Service).
   */
  readiness(): true | string {
    return this.#readiness;
  }

  /** Writes our anchor if the CRD is unchanged since `crd` was read; false when it changed. */
  async #claim(crd: CustomResourceDefinition): Promise<boolean> {
    try {
      await this.#crds.patch(RECORD_ANCHOR_CRD, {
        metadata: {
          resourceVersion: crd.metadata?.resourceVersion,
          annotations: { [RECORD_ANCHOR_ANNOTATION]: this.value },
        },
      });
      return true;
    } catch (error) {
      if (error instanceof ConflictError) return false; // someone wrote first: read again
      throw error;
    }
  }
}

/**
 * Leader work that runs only while the anchor names this process's record, re-checked every 10 s,
 * claiming a removed anchor as rule 8 says. Returns at once, so the caller keeps renewing its Lease.
 */
export function anchoredLeaderWork({ anchor, start, logger }: {
  /** The anchor of this process's record. */
  anchor: Pick<RecordAnchor, "check" | "value">;
  /** Starts the allocating work (allocator, repair, controllers). */
  start: () => Promise<ControllerRun>;
  logger: Pick<Logger, "info" | "error">;
}): ControllerRun {
  let sawOther = false; // the anchor named another record since we last held it
  let absentSince: number | undefined;
  const stopping = new AbortController();
  const synced = Promise.withResolvers<unknown>();
  let work: ControllerRun | undefined;
  let lastProblem: string | undefined;

  const pause = () => sleep(SYSTEM_CLOCK, ANCHOR_RECHECK_MS, stopping.signal);
  const report = (problem: string | undefined) => {
    if (problem !== undefined && problem !== lastProblem) {
      logger.error("Not allocating", { anchor: anchor.value, reason: problem });
    }
    lastProblem = problem;
  };

  const loop = (async () => {
    while (!stopping.signal.aborted) {
      const claimAbsent = !sawOther || (absentSince !== undefined &&
        Date.now() - absentSince >= ANCHOR_CLAIM_DELAY_FACTOR * ANCHOR_RECHECK_MS);
      let verdict: AnchorCheck;
      try {
        verdict = await anchor.check({ claimAbsent });
      } catch (error) {
        // Cannot read the anchor: keep what runs (it was allowed), start nothing new.
        report(`Cannot check the allocation record's anchor: ${errorMessage(error)}`);
        await pause();
        continue;
      }
      if (stopping.signal.aborted) break;
      sawOther = verdict !== true && (verdict.holder !== undefined || sawOther);
      absentSince = verdict !== true && verdict.holder === undefined
        ? absentSince ?? Date.now()
        : undefined;
      if (verdict === true && work === undefined) {
        report(undefined);
        logger.info("Allocation record anchored", { anchor: anchor.value });
        try {
          work = await start();
          work.synced.then((value) => synced.resolve(value), () => synced.resolve(false));
        } catch (error) {
          report(`Cannot start allocating: ${errorMessage(error)}`);
        }
      } else if (verdict !== true) {
        report(verdict.reason);
        await work?.stop();
        work = undefined;
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
