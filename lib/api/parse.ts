/**
 * Parsing of untrusted values with the API schemas: a named error that lists every problem with
 * its field path, and a result type for callers that treat a bad object as an expected outcome.
 *
 * @module
 */
import type * as z from "zod";

/** One problem found in a value: the field path (`spec.pools[0].end`) and what is wrong there. */
export interface ObjectIssue {
  /** Dotted field path with `[i]` indices; `""` for the value itself. */
  readonly path: string;
  /** What is wrong, for example `Too small: expected number to be >=1`. */
  readonly message: string;
}

/** Thrown (or returned) when a value does not have the shape of the expected kind. */
export class InvalidObjectError extends TypeError {
  /** The kind that was expected, for example `HostPortClaim`. */
  readonly kind: string;
  /** `namespace/name` or `name` of the object when the value carries one. */
  readonly objectName: string | undefined;
  /** Every problem found, in the order the schema reported them. */
  readonly issues: readonly ObjectIssue[];

  /**
   * Creates the error; the message names the kind, the object and every issue.
   *
   * @param kind the expected kind
   * @param objectName `namespace/name` or `name`, if known
   * @param issues the problems found
   */
  constructor(kind: string, objectName: string | undefined, issues: readonly ObjectIssue[]) {
    const subject = objectName === undefined ? kind : `${kind} "${objectName}"`;
    const details = issues.map((issue) =>
      issue.path === "" ? issue.message : `${issue.path}: ${issue.message}`
    ).join("; ");
    super(`Cannot parse ${subject}: ${details}`);
    this.name = "InvalidObjectError";
    this.kind = kind;
    this.objectName = objectName;
    this.issues = issues;
  }
}

/** Outcome of a safe parse: the typed value, or the error that `parse` would have thrown. */
export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: InvalidObjectError };

/**
 * Formats a zod issue path as Kubernetes prints field paths: `spec.pools[0].end`.
 *
 * @param path the path segments
 * @returns the dotted path, `""` for the root
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

/**
 * Parses `value` with `schema` and returns the result as a value.
 *
 * @param schema the schema of the kind
 * @param value the untrusted value
 * @param kind the kind name used in the error message
 * @returns the parsed value or an {@linkcode InvalidObjectError}
 */
export function safeParseObject<S extends z.ZodType>(
  schema: S,
  value: unknown,
  kind: string,
): ParseResult<z.output<S>> {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  const issues = result.error.issues.map((issue) => ({
    path: formatPath(issue.path),
    message: issue.message,
  }));
  return { ok: false, error: new InvalidObjectError(kind, objectNameOf(value), issues) };
}

/**
 * Parses `value` with `schema`.
 *
 * @param schema the schema of the kind
 * @param value the untrusted value
 * @param kind the kind name used in the error message
 * @returns the parsed value; unknown fields are kept where the schema is loose
 * @throws {InvalidObjectError} when the value does not match the schema
 */
export function parseObject<S extends z.ZodType>(
  schema: S,
  value: unknown,
  kind: string,
): z.output<S> {
  const result = safeParseObject(schema, value, kind);
  if (!result.ok) throw result.error;
  return result.value;
}

/** Reads `namespace/name` (or `name`) from a value that may not be an object at all. */
function objectNameOf(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const metadata = (value as { metadata?: unknown }).metadata;
  if (typeof metadata !== "object" || metadata === null) return undefined;
  const { name, namespace } = metadata as { name?: unknown; namespace?: unknown };
  if (typeof name !== "string") return undefined;
  return typeof namespace === "string" && namespace !== "" ? `${namespace}/${name}` : name;
}
