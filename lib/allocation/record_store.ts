/**
 * Where the allocation record lives: the narrow compare-and-swap seam {@linkcode RecordStore}
 * (read, create, replace) that `AllocationRecord` writes through, its one implementation over a
 * ConfigMap changed only by PUT with the resourceVersion that was read (like the NodePort
 * allocator's `RangeAllocation`), and the ConfigMap's `data`:
 *
 * | key             | value                                                           |
 * | --------------- | --------------------------------------------------------------- |
 * | `formatVersion` | `"1"`                                                           |
 * | `reserved`      | the reserved ports, base64 of `PortBitmap.toBytes` (8 KiB)     |
 * | `reservedCount` | how many ports are reserved, for people reading the ConfigMap   |
 * | `writeId`       | `<writer>/<sequence>` of the write that produced this content   |
 *
 * `writeId` lets a writer whose request timed out tell, on its next read, whether that very write
 * is the one the server holds.
 *
 * @module
 */

import type { ConfigMap } from "kubernetes-types/core/v1.d.ts";
import * as z from "zod";
import { PORT_BITMAP_BYTES, PortBitmap } from "../allocator/port_bitmap.ts";
import {
  AlreadyExistsError,
  ConflictError,
  KubeApiError,
  KubeConnectionError,
  KubeRequestTimeoutError,
  NotFoundError,
} from "../kube/rest_client.ts";
import { defineResource, type ResourceDescriptor } from "../kube/resource.ts";
import { ResourceClient } from "../kube/resource.ts";
import type { RestClient } from "../kube/rest_client.ts";

/** The record's content is not in a format this code understands; it is never overwritten. */
export class AllocationRecordFormatError extends TypeError {
  /** Builds `Cannot read the allocation record as <detail>`. */
  constructor(detail: string, options?: ErrorOptions) {
    super(`Cannot read the allocation record as ${detail}`, options);
    this.name = "AllocationRecordFormatError";
  }
}

/** The format version this code reads and writes. */
export const RECORD_FORMAT_VERSION = "1";

/** The decoded content of the record. */
export interface RecordContent {
  /** The reserved ports. */
  readonly bits: PortBitmap;
  /** Who wrote this content (`<writer>/<sequence>`), or undefined if unknown. */
  readonly writeId: string | undefined;
}

const RecordData = z.object({
  formatVersion: z.string(),
  reserved: z.string(),
  writeId: z.string().optional(),
}).loose();

/** The ConfigMap `data` for `content`. */
export function encodeRecordData(content: RecordContent): Record<string, string> {
  const data: Record<string, string> = {
    formatVersion: RECORD_FORMAT_VERSION,
    reserved: encodeBitmap(content.bits),
    reservedCount: String(content.bits.size),
  };
  if (content.writeId !== undefined) data.writeId = content.writeId;
  return data;
}

/**
 * Decodes ConfigMap `data` (untrusted: anyone allowed to edit the ConfigMap could have changed it).
 *
 * @throws {AllocationRecordFormatError} a key is missing, the version is unknown, or the bitmap
 * is malformed
 */
export function decodeRecordData(data: unknown): RecordContent {
  const parsed = RecordData.safeParse(data ?? {});
  if (!parsed.success) {
    const keys = parsed.error.issues.map((issue) => issue.path.join(".")).join(", ");
    throw new AllocationRecordFormatError(`its data is malformed: ${keys || "not an object"}`);
  }
  const { formatVersion, reserved, writeId } = parsed.data;
  if (formatVersion !== RECORD_FORMAT_VERSION) {
    throw new AllocationRecordFormatError(
      `its format version is "${formatVersion}": only "${RECORD_FORMAT_VERSION}" is known`,
    );
  }
  try {
    return { bits: decodeBitmap(reserved), writeId };
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new AllocationRecordFormatError(`its bitmap is malformed: ${detail}`, { cause: error });
  }
}

function encodeBitmap(bits: PortBitmap): string {
  const bytes = bits.toBytes();
  let binary = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return btoa(binary);
}

/** @throws {SyntaxError} the text is not base64, not 8 KiB, or reserves port 0 */
function decodeBitmap(text: string): PortBitmap {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    throw new SyntaxError("Cannot decode the port bitmap as it is not base64");
  }
  if (binary.length !== PORT_BITMAP_BYTES) {
    throw new SyntaxError(
      `Cannot decode the port bitmap as it must be ${PORT_BITMAP_BYTES} bytes: got ${binary.length}`,
    );
  }
  const bits = PortBitmap.fromBytes(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
  if (bits.has(0)) throw new SyntaxError("Cannot decode the port bitmap as port 0 is set");
  return bits;
}

/** The record as stored, with the version a compare-and-swap must name. */
export interface StoredRecord extends RecordContent {
  /** The storage version (`metadata.resourceVersion`). */
  readonly resourceVersion: string;
}

/**
 * Compare-and-swap storage for one record. Errors are the `lib/kube` error family, so the record
 * can tell a refused write from one whose outcome is unknown (see {@linkcode classifyWriteError}).
 */
export interface RecordStore {
  /**
   * Reads the record, or undefined when it does not exist. Must be a consistent read (never from
   * a cache).
   *
   * @throws {AllocationRecordFormatError} the stored content is not understood
   */
  read(): Promise<StoredRecord | undefined>;
  /** Creates the record. @throws {AlreadyExistsError} it exists already */
  create(content: RecordContent): Promise<StoredRecord>;
  /**
   * Replaces the record if it is still at `resourceVersion`.
   *
   * @throws {ConflictError} it changed since; {NotFoundError} it was deleted
   */
  replace(content: RecordContent, resourceVersion: string): Promise<StoredRecord>;
}

/**
 * How a failed write ended:
 * - `"conflict"`: refused because the record changed, was created, or was deleted meanwhile; it
 *   certainly did not land. Re-read and re-apply.
 * - `"refused"`: refused for another definite reason (403, 422, 429...); it did not land.
 * - `"unknown"`: a timeout, a connection error, a 5xx, or anything unexpected; it may have
 *   landed, now or later.
 */
export type WriteFailure = "conflict" | "refused" | "unknown";

/** Classifies an error thrown by {@linkcode RecordStore.create} or {@linkcode RecordStore.replace}. */
export function classifyWriteError(error: unknown): WriteFailure {
  if (
    error instanceof ConflictError || error instanceof AlreadyExistsError ||
    error instanceof NotFoundError
  ) {
    return "conflict";
  }
  if (error instanceof KubeRequestTimeoutError || error instanceof KubeConnectionError) {
    return "unknown";
  }
  // 5xx: the server may have committed before failing (504 is its own timeout).
  if (error instanceof KubeApiError) return error.code >= 500 ? "unknown" : "refused";
  return "unknown";
}

/** The default name of the record's ConfigMap (in the operator's namespace). */
export const DEFAULT_RECORD_NAME = "hostport-allocator-allocations";

/** `v1` ConfigMaps. */
export const CONFIG_MAP_RESOURCE: ResourceDescriptor<ConfigMap> = defineResource<ConfigMap>({
  group: "",
  version: "v1",
  kind: "ConfigMap",
  plural: "configmaps",
  namespaced: true,
});

/** Where the record lives. */
export interface ConfigMapRecordStoreOptions {
  /** The operator's namespace. */
  namespace: string;
  /** The ConfigMap's name; default {@linkcode DEFAULT_RECORD_NAME}. */
  name?: string | undefined;
}

/** Labels the record's ConfigMap carries. */
export const RECORD_LABELS: Readonly<Record<string, string>> = {
  "app.kubernetes.io/name": "hostport-allocator",
  "app.kubernetes.io/component": "allocation-record",
};

/** A {@linkcode RecordStore} over one ConfigMap. Errors are the `lib/kube` error family. */
export class ConfigMapRecordStore implements RecordStore {
  /** The ConfigMap's namespace. */
  readonly namespace: string;
  /** The ConfigMap's name. */
  readonly name: string;
  #configMaps: ResourceClient<ConfigMap>;

  /** Creates a store for `namespace/name` over `client`. */
  constructor(client: RestClient, options: ConfigMapRecordStoreOptions) {
    this.namespace = options.namespace;
    this.name = options.name ?? DEFAULT_RECORD_NAME;
    this.#configMaps = new ResourceClient(client, CONFIG_MAP_RESOURCE);
  }

  /** Reads the ConfigMap (a consistent GET); undefined when it does not exist. */
  async read(): Promise<StoredRecord | undefined> {
    try {
      return toStored(await this.#configMaps.get(this.name, { namespace: this.namespace }));
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  /** Creates the ConfigMap. */
  async create(content: RecordContent): Promise<StoredRecord> {
    return toStored(await this.#configMaps.create(this.#object(content)));
  }

  /** Replaces the ConfigMap if it is still at `resourceVersion`. */
  async replace(content: RecordContent, resourceVersion: string): Promise<StoredRecord> {
    return toStored(await this.#configMaps.update(this.#object(content, resourceVersion)));
  }

  #object(content: RecordContent, resourceVersion?: string): ConfigMap {
    return {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: this.name,
        namespace: this.namespace,
        labels: { ...RECORD_LABELS },
        annotations: {
          "hostport.rmb938.com/description":
            "Ports reserved by hostport-allocator. Changed only by the operator; do not edit.",
        },
        ...(resourceVersion === undefined ? {} : { resourceVersion }),
      },
      data: encodeRecordData(content),
    };
  }
}

function toStored(configMap: ConfigMap): StoredRecord {
  const resourceVersion = configMap.metadata?.resourceVersion;
  if (!resourceVersion) throw new TypeError("Cannot use a ConfigMap without a resourceVersion");
  return { ...decodeRecordData(configMap.data), resourceVersion };
}
