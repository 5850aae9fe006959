/**
 * Which keys each watch event queues (level-based: an event only says "look at this key").
 *
 * - Class -> the class, its HostPorts and its claims.
 * - Claim -> the claim; on add, delete, or a uid or deletion change also the HostPorts naming it
 *   (their plan reads the claim only as gone or not; requeueing them on the claim's own writes
 *   made them reconcile from a stale cache, a 409 per claim).
 * - HostPort -> it, its claims (urgent once it holds a port, so a ready claim does not wait behind
 *   a burst of new ones), its class (batched, {@linkcode CLASS_BATCH_MS}), and the other holders
 *   of its port with their claims (a `PortConflict` may change).
 * - Pod -> the claims it names, before and after, and their deleting HostPorts.
 * - Quotas: a claim created or deleted -> the namespace's quotas; a claim gone or a quota's
 *   `spec.hard` changed -> the namespace's claims a quota holds back.
 *
 * @module
 */
import type { ResourceQuota } from "kubernetes-types/core/v1.d.ts";
import {
  CONDITION_REASON,
  CONDITION_TYPE,
  type HostPort,
  type HostPortClaim,
  type HostPortClass,
} from "../api/mod.ts";
import { type KubeObject, NAMESPACE_INDEX, objectKey } from "../kube/mod.ts";
import { jsonEqual } from "../api/types.ts";
import { claimNamesOfPod, type PodSummary } from "../reconcile/pods.ts";
import { type ControllerCaches, INDEX } from "./context.ts";
import type { Controller } from "./controller.ts";

/** How long a class waits after a change of one of its HostPorts, so a burst joins one reconcile. */
export const CLASS_BATCH_MS = 250;

/** The controllers, for queueing keys (`name` or `namespace/name`). */
export interface ControllerSet {
  readonly classes: Controller;
  readonly claims: Controller;
  readonly hostPorts: Controller;
  readonly quotas: Controller;
}

/** Connects the caches' events to the controllers' queues; returns a function that undoes it. */
export function wireEvents(
  caches: ControllerCaches,
  controllers: ControllerSet,
  onClaimGone: (uid: string) => void,
): () => void {
  const { classes, claims, hostPorts, quotas } = controllers;
  const claimRefKey = (ref: HostPort["spec"]["claimRef"]) =>
    ref?.name ? `${ref.namespace ?? ""}/${ref.name}` : undefined;

  const onClass = (hostPortClass: HostPortClass) => {
    const name = hostPortClass.metadata.name ?? "";
    classes.enqueue(name);
    enqueueEach(hostPorts, caches.hostPorts.store.byIndex(INDEX.byClass, name));
    enqueueEach(claims, caches.claims.store.byIndex(INDEX.byClass, name));
  };

  const onClaim = (claim: HostPortClaim, hostPortsToo = true) => {
    const key = objectKey(claim);
    claims.enqueue(key);
    if (!hostPortsToo) return;
    if (claim.spec.hostPortName) hostPorts.enqueue(claim.spec.hostPortName);
    enqueueEach(hostPorts, caches.hostPorts.store.byIndex(INDEX.byClaim, key));
  };

  const onHostPort = (hostPort: HostPort) => {
    const name = objectKey(hostPort);
    hostPorts.enqueue(name);
    classes.enqueueAfter(hostPort.spec.hostPortClassName, CLASS_BATCH_MS);
    const port = hostPort.status?.port ?? 0;
    const urgent = port > 0;
    const ref = claimRefKey(hostPort.spec.claimRef);
    if (ref !== undefined) claims.enqueue(ref, { urgent });
    for (const claim of caches.claims.store.byIndex(INDEX.byHostPort, name)) {
      claims.enqueue(objectKey(claim), { urgent });
    }
    if (port === 0) return;
    for (const other of caches.hostPorts.store.byIndex(INDEX.byPort, String(port))) {
      if (objectKey(other) === name) continue;
      hostPorts.enqueue(objectKey(other));
      const otherRef = claimRefKey(other.spec.claimRef);
      if (otherRef !== undefined) claims.enqueue(otherRef);
    }
  };

  const onPod = (pod: PodSummary) => {
    for (const claim of claimNamesOfPod(pod)) {
      const key = `${pod.metadata.namespace ?? ""}/${claim}`;
      claims.enqueue(key);
      for (const hostPort of caches.hostPorts.store.byIndex(INDEX.byClaim, key)) {
        if (hostPort.metadata.deletionTimestamp) hostPorts.enqueue(objectKey(hostPort));
      }
    }
  };

  const quotasOfNamespace = (namespace: string) =>
    enqueueEach(quotas, caches.quotas.store.byIndex(NAMESPACE_INDEX, namespace));

  /** Queues the namespace's claims that a quota holds back: usage or a limit changed. */
  const claimsHeldBack = (namespace: string) => {
    for (const claim of caches.claims.store.byIndex(NAMESPACE_INDEX, namespace)) {
      const bound = claim.status?.conditions?.find((c) => c.type === CONDITION_TYPE.Bound);
      if (bound?.reason === CONDITION_REASON.QuotaExceeded) claims.enqueue(objectKey(claim));
    }
  };

  const onQuota = (quota: ResourceQuota, specChanged: boolean) => {
    quotas.enqueue(objectKey(quota));
    if (specChanged) claimsHeldBack(quota.metadata?.namespace ?? "");
  };

  const removers = [
    caches.classes.addEventHandler({
      onAdd: onClass,
      onUpdate: (previous, next) => {
        if (previous.metadata.generation !== next.metadata.generation) onClass(next);
        else classes.enqueue(objectKey(next));
      },
      onDelete: onClass,
    }),
    caches.claims.addEventHandler({
      onAdd: (claim) => {
        onClaim(claim);
        quotasOfNamespace(claim.metadata.namespace ?? "");
      },
      // HostPorts only when what their plan reads of the claim (gone or not) may differ.
      onUpdate: (previous, next) =>
        onClaim(
          next,
          previous.metadata.uid !== next.metadata.uid ||
            previous.metadata.deletionTimestamp !== next.metadata.deletionTimestamp,
        ),
      onDelete: (claim) => {
        onClaim(claim);
        if (claim.metadata.uid) onClaimGone(claim.metadata.uid);
        const namespace = claim.metadata.namespace ?? "";
        quotasOfNamespace(namespace);
        claimsHeldBack(namespace);
      },
    }),
    caches.quotas.addEventHandler({
      onAdd: (quota) => onQuota(quota, true),
      onUpdate: (previous, next) => onQuota(next, !jsonEqual(previous.spec, next.spec)),
      onDelete: (quota) => onQuota(quota, true),
    }),
    caches.hostPorts.addEventHandler({
      onAdd: onHostPort,
      onUpdate: (_previous, next) => onHostPort(next),
      onDelete: onHostPort,
    }),
    caches.pods.addEventHandler({
      onAdd: onPod,
      onUpdate: (previous, next) => {
        onPod(previous);
        onPod(next);
      },
      onDelete: onPod,
    }),
  ];
  return () => removers.forEach((remove) => remove());
}

function enqueueEach(controller: Controller, objects: readonly KubeObject[]): void {
  for (const object of objects) controller.enqueue(objectKey(object));
}

/** Queues every HostPort without a port whose class's pools contain `port`: it may get it now. */
export function requeuePendingFor(
  caches: ControllerCaches,
  controllers: ControllerSet,
  port: number,
): void {
  for (const hostPortClass of caches.classes.store.list()) {
    if (!hostPortClass.spec.pools.some((pool) => pool.start <= port && port <= pool.end)) continue;
    const name = hostPortClass.metadata.name ?? "";
    for (const hostPort of caches.hostPorts.store.byIndex(INDEX.byClass, name)) {
      if ((hostPort.status?.port ?? 0) === 0) controllers.hostPorts.enqueue(objectKey(hostPort));
    }
  }
}
