/**
 * Builds `events.k8s.io/v1` Event objects that pass the API server's validation: a
 * `MicroTime` eventTime, the reporting controller and instance, `action`, the length
 * limits, and the `default` namespace for cluster-scoped subjects.
 *
 * @module
 */
import type { Event, EventSeries } from "kubernetes-types/events/v1.d.ts";
import type { EventSubject } from "./contracts.ts";
import { microTime } from "./micro_time.ts";

/** The API server's limits (`pkg/apis/core/validation/events.go`). */
const NOTE_LIMIT = 1024;
const REASON_LIMIT = 128;
const INSTANCE_LIMIT = 128;

/** A series value for `count` occurrences, the latest at `nowMs`. */
export function seriesOf(count: number, nowMs: number): EventSeries {
  return { count, lastObservedTime: microTime(nowMs) };
}

function truncate(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 3)}...`;
}

/** What `buildEvent` needs to know about one event and its series. */
export interface EventInput {
  /** The object. */
  subject: EventSubject;
  /** `Normal` or `Warning`. */
  type: "Normal" | "Warning";
  /** CamelCase reason. */
  reason: string;
  /** The note. */
  message: string;
}

/**
 * Builds the Event `name` about a series that started at `firstMs` (without `series`; the
 * caller adds it for repeats).
 */
export function buildEvent(
  input: EventInput,
  name: string,
  firstMs: number,
  reporter: { controller: string; instance: string },
): Event {
  const { apiVersion, kind, metadata } = input.subject;
  const reason = truncate(input.reason, REASON_LIMIT);
  return {
    apiVersion: "events.k8s.io/v1",
    kind: "Event",
    metadata: { name, namespace: metadata.namespace || "default" },
    eventTime: microTime(firstMs),
    reportingController: reporter.controller,
    reportingInstance: truncate(reporter.instance, INSTANCE_LIMIT),
    action: reason,
    reason,
    note: truncate(input.message, NOTE_LIMIT),
    type: input.type,
    regarding: {
      apiVersion,
      kind,
      name: metadata.name ?? "",
      ...(metadata.namespace ? { namespace: metadata.namespace } : {}),
      ...(metadata.uid ? { uid: metadata.uid } : {}),
    },
  };
}
