/**
 * The HostPortClass controller: finalizer, deletion blocked while HostPorts of the class exist,
 * and the usage status (the planner spaces its writes) and gauges.
 *
 * @module
 */
import type { HostPortClass } from "../api/mod.ts";
import { type ClassUsage, PortRegistry } from "../allocator/mod.ts";
import { planHostPortClass } from "../reconcile/hostport_class.ts";
import { done, withFinalizer, withoutFinalizer } from "../reconcile/outcome.ts";
import { type ControllerContext, INDEX, subjectOf } from "./context.ts";
import type { ReconcileFunction } from "./controller.ts";

/** Builds the class reconciler. */
export function createClassReconciler(ctx: ControllerContext): ReconcileFunction {
  const lastStatusWrite = new Map<string, number>();
  return async (key, abortSignal) => {
    const hostPortClass = ctx.caches.classes.store.get(key);
    if (hostPortClass === undefined) {
      lastStatusWrite.delete(key);
      removeGauges(ctx, key);
      return done();
    }
    const usage = classUsage(ctx, hostPortClass);
    setGauges(ctx, key, usage);
    const nowMs = ctx.clock.now();
    const plan = planHostPortClass({
      hostPortClass,
      hostPortCount: ctx.caches.hostPorts.store.byIndex(INDEX.byClass, key).length,
      usage,
      nowMs,
      lastStatusWriteMs: lastStatusWrite.get(key),
    });
    const { hostPortClasses: classes } = ctx.clients;
    let current = hostPortClass;
    for (const step of plan.steps) {
      switch (step.type) {
        case "addFinalizer":
          current = await classes.update(withFinalizer(current), { abortSignal });
          break;
        case "removeFinalizer":
          current = await classes.update(withoutFinalizer(current), { abortSignal });
          break;
        case "setStatus":
          current = await classes.updateStatus({ ...current, status: step.status }, {
            abortSignal,
          });
          lastStatusWrite.set(key, nowMs);
          break;
        case "event":
          ctx.recorder.record(subjectOf(current), step.eventType, step.reason, step.message);
          break;
      }
    }
    return plan.outcome;
  };
}

/** Port counts of a class's pools over the ports held by cached HostPorts of every class. */
function classUsage(ctx: ControllerContext, hostPortClass: HostPortClass): ClassUsage {
  const registry = new PortRegistry();
  const held = ctx.caches.hostPorts.store.indexValues(INDEX.byPort);
  registry.restore(held.map((port) => ({ holder: port, port: Number(port) })));
  return registry.usage(hostPortClass.spec.pools);
}

function setGauges(ctx: ControllerContext, name: string, usage: ClassUsage): void {
  ctx.metrics.classCapacity.set({ class: name }, usage.capacity);
  ctx.metrics.classAllocated.set({ class: name }, usage.allocated);
  ctx.metrics.classFree.set({ class: name }, usage.free);
}

function removeGauges(ctx: ControllerContext, name: string): void {
  ctx.metrics.classCapacity.remove({ class: name });
  ctx.metrics.classAllocated.remove({ class: name });
  ctx.metrics.classFree.remove({ class: name });
}
