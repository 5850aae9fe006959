/**
 * The `EventSink` that writes Events to the API server (`events.k8s.io/v1`): create, and a
 * merge patch of `series` for repeats. A patch of an expired Event answers `"gone"`.
 *
 * @module
 */
import type { Event } from "kubernetes-types/events/v1.d.ts";
import { AlreadyExistsError, NotFoundError, type ResourceClient } from "../kube/mod.ts";
import type { EventSink } from "./event_recorder.ts";

/** Creates a sink writing through the `events.k8s.io/v1` Event client. */
export function kubeEventSink(events: Pick<ResourceClient<Event>, "create" | "patch">): EventSink {
  return {
    async create(event, signal) {
      try {
        await events.create(event, { abortSignal: signal });
      } catch (error) {
        if (!(error instanceof AlreadyExistsError)) throw error; // a retried create landed
      }
    },
    async patchSeries(event, signal) {
      try {
        await events.patch(event.metadata?.name ?? "", {
          type: "merge",
          body: { series: event.series },
        }, {
          namespace: event.metadata?.namespace,
          abortSignal: signal,
        });
        return "ok";
      } catch (error) {
        if (error instanceof NotFoundError) return "gone";
        throw error;
      }
    },
  };
}
