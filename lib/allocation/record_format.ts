/**
 * The allocation record's wire format: the `data` of the ConfigMap.
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

import * as z from "zod";
import { PORT_BITMAP_BYTES, PortBitmap } from "../allocator/mod.ts";

/** The format version this code reads and writes. */
export const RECORD_FORMAT_VERSION = "1";

/** The decoded content of the record. */
export interface RecordContent {
  /** The reserved ports. */
  readonly bits: PortBitmap;
  /** Who wrote this content (`<writer>/<sequence>`), or undefined if unknown. */
  readonly writeId: string | undefined;
}

/** The record's content is not in a format this code understands; it is never overwritten. */
export class AllocationRecordFormatError extends TypeError {
  /** Builds `Cannot read the allocation record as <detail>`. */
  constructor(detail: string, options?: ErrorOptions) {
    super(`Cannot read the allocation record as ${detail}`, options);
    this.name = "AllocationRecordFormatError";
  }
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
