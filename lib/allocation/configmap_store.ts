/**
 * The allocation record stored in a ConfigMap, changed only by PUT with the resourceVersion that
 * was read (compare-and-swap), like the NodePort allocator's `RangeAllocation`.
 *
 * @module
 */

import type { ConfigMap } from "kubernetes-types/core/v1.d.ts";
import {
  defineResource,
  NotFoundError,
  ResourceClient,
  type ResourceDescriptor,
  type RestClient,
} from "../kube/mod.ts";
import { AllocationRecord, type AllocationRecordOptions } from "./allocation_record.ts";
import { decodeRecordData, encodeRecordData, type RecordContent } from "./record_format.ts";
import type { RecordStore, StoredRecord } from "./record_store.ts";

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

/**
 * The record in ConfigMap `namespace/name` (default {@linkcode DEFAULT_RECORD_NAME}), as the
 * operator uses it.
 *
 * @example
 * ```ts ignore
 * const record = openAllocationRecord(client, { namespace: "hostport-allocator-system" });
 * ```
 */
export function openAllocationRecord(
  client: RestClient,
  options: ConfigMapRecordStoreOptions & AllocationRecordOptions,
): AllocationRecord {
  return new AllocationRecord(new ConfigMapRecordStore(client, options), options);
}
