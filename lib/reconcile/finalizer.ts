/**
 * The operator's finalizer as pure object edits (controller-runtime `finalizer` shape): the
 * planners decide, the controllers write.
 *
 * @module
 */
import { FINALIZER } from "../api/mod.ts";

/** The metadata fields the finalizer helpers read. */
interface FinalizerMeta {
  metadata: { finalizers?: string[] | undefined; deletionTimestamp?: string | undefined };
}

/** Whether the object carries the operator's finalizer. */
export function hasFinalizer(object: FinalizerMeta): boolean {
  return object.metadata.finalizers?.includes(FINALIZER) ?? false;
}

/** Whether deletion of the object was requested. */
export function isDeleting(object: FinalizerMeta): boolean {
  return object.metadata.deletionTimestamp !== undefined;
}

/** Returns a copy of `object` with the finalizer added (last), or `object` if it has it. */
export function withFinalizer<T extends FinalizerMeta>(object: T): T {
  if (hasFinalizer(object)) return object;
  const finalizers = [...(object.metadata.finalizers ?? []), FINALIZER];
  return { ...object, metadata: { ...object.metadata, finalizers } };
}

/** Returns a copy of `object` without the finalizer; other finalizers are kept. */
export function withoutFinalizer<T extends FinalizerMeta>(object: T): T {
  const finalizers = (object.metadata.finalizers ?? []).filter((name) => name !== FINALIZER);
  return { ...object, metadata: { ...object.metadata, finalizers } };
}
