/**
 * The container ports of a pod and the port rules of the pod webhook (seed 3.5 step 2), applied
 * to `initContainers` as well as `containers` (seed 5.4 #23: native sidecars are init
 * containers with `restartPolicy: Always`, and a hostPort there must not slip through).
 *
 * @module
 */
import { POD_MESSAGE } from "../lib/api/mod.ts";
import { duplicate, type FieldError, type FieldPath, fieldPath, invalid } from "./field_errors.ts";
import { jsonPointer } from "./json_patch.ts";
import type { Pod } from "./pod_schema.ts";

/** One container port, with where it is. */
export interface PodPort {
  /** `spec.containers[c].ports[p]` or `spec.initContainers[c].ports[p]`. */
  readonly path: FieldPath;
  /** JSON pointer of the port object, for patches. */
  readonly pointer: string;
  /** The port name; `""` when unnamed. */
  readonly name: string;
  /** `containerPort`. */
  readonly containerPort: number;
  /** `hostPort` as written; absent when the field is not set. */
  readonly hostPort: number | undefined;
  /**
   * The port the pod takes on the node: `hostPort`, or for a hostNetwork pod `containerPort`
   * (the API defaults `hostPort = containerPort` for them before admission); 0 for none.
   */
  readonly nodePort: number;
}

const CONTAINER_LISTS = ["containers", "initContainers"] as const;

/**
 * Lists every port of `spec.containers`, then of `spec.initContainers`, in order.
 * (`ephemeralContainers` may not declare ports, so they are not listed.)
 *
 * @param pod the pod
 * @returns the ports
 */
export function listPodPorts(pod: Pod): PodPort[] {
  const hostNetwork = pod.spec?.hostNetwork === true;
  const ports: PodPort[] = [];
  for (const list of CONTAINER_LISTS) {
    (pod.spec?.[list] ?? []).forEach((container, c) => {
      (container.ports ?? []).forEach((port, p) => {
        const hostPort = port.hostPort;
        const set = hostPort !== undefined && hostPort !== 0;
        ports.push({
          path: fieldPath("spec", list).index(c).child("ports").index(p),
          pointer: jsonPointer("spec", list, c, "ports", p),
          name: port.name ?? "",
          containerPort: port.containerPort,
          hostPort,
          nodePort: set ? hostPort : hostNetwork ? port.containerPort : 0,
        });
      });
    });
  }
  return ports;
}

/** Detail of the hostPort refusal for hostNetwork pods; it keeps the original's text first. */
export const HOST_NETWORK_DETAIL = `${POD_MESSAGE.hostPortsForbidden}: a hostNetwork pod ` +
  "uses each container port as a host port, so each port must be named and claimed with a " +
  "claim.hostport.rmb938.com/<port name> annotation";

/**
 * The port rules for a pod with the given claimed port names:
 *
 * - a port that takes a node port (hostPort, or any port of a hostNetwork pod) must be claimed:
 *   else `host ports cannot be set` on `...hostPort`;
 * - a claimed name must name one port only: else `Duplicate value` on the later `...name`.
 *   Unclaimed ports need neither a name nor a unique one (seed 5.4 #22: the original refused
 *   any unnamed or repeated port name once a pod had a claim, which broke unnamed sidecar ports).
 *
 * @param ports the pod's ports
 * @param claimed the port names that claim annotations name
 * @param hostNetwork whether the pod uses the host network
 * @returns the errors, in port order
 */
export function checkPorts(
  ports: readonly PodPort[],
  claimed: ReadonlySet<string>,
  hostNetwork: boolean,
): FieldError[] {
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  for (const port of ports) {
    const isClaimed = port.name !== "" && claimed.has(port.name);
    if (isClaimed && seen.has(port.name)) {
      errors.push(duplicate(port.path.child("name"), port.name));
    }
    if (isClaimed) seen.add(port.name);
    if (port.nodePort > 0 && !isClaimed) {
      const detail = hostNetwork ? HOST_NETWORK_DETAIL : POD_MESSAGE.hostPortsForbidden;
      errors.push(invalid(port.path.child("hostPort"), port.nodePort, detail));
    }
  }
  return errors;
}

/**
 * `Port name must be set` on every unnamed port, reported only when a claim names a port that
 * does not exist: then an unnamed port is most likely the one meant (the only case where the
 * original's rule still helps).
 *
 * @param ports the pod's ports
 * @returns the errors, in port order
 */
export function unnamedPortErrors(ports: readonly PodPort[]): FieldError[] {
  return ports.filter((port) => port.name === "").map((port) =>
    invalid(port.path.child("name"), "", POD_MESSAGE.portNameRequired)
  );
}

/**
 * Returns the first port with the given name.
 *
 * @param ports the pod's ports
 * @param name a port name
 * @returns the port, if any
 */
export function findPort(ports: readonly PodPort[], name: string): PodPort | undefined {
  return ports.find((port) => port.name === name);
}
