/**
 * Field errors shaped and printed like apimachinery's `field.Error` / `field.ErrorList`, so
 * admission messages match the original operator's byte for byte (seed 3.2).
 *
 * Values are quoted as Go's `%q` does ({@linkcode goQuote}), so messages match the original
 * operator's byte for byte, even for odd input.
 *
 * @module
 */

/** A field path printed the Kubernetes way: children joined with `.`, indices as `[i]`. */
export class FieldPath {
  readonly #text: string;

  /**
   * Creates a path; prefer {@linkcode fieldPath}.
   *
   * @param text the printed path
   */
  constructor(text: string) {
    this.#text = text;
  }

  /** Returns the path of a child; names are joined with `.` even when they contain `.` or `/`. */
  child(...names: readonly string[]): FieldPath {
    let text = this.#text;
    for (const name of names) text = text === "" ? name : `${text}.${name}`;
    return new FieldPath(text);
  }

  /** Returns the path of an element: `path[i]`. */
  index(i: number): FieldPath {
    return new FieldPath(`${this.#text}[${i}]`);
  }

  /** The printed path, for example `spec.containers[0].ports[1].name`. */
  toString(): string {
    return this.#text;
  }
}

/**
 * Returns the path made of the given names, for example `fieldPath("spec", "pools")`.
 *
 * @param names the first names
 * @returns the path
 */
export function fieldPath(...names: readonly string[]): FieldPath {
  return new FieldPath("").child(...names);
}

/** Cause types, as in `metav1.CauseType` (the values of `details.causes[].type`). */
export type FieldErrorType =
  | "FieldValueNotFound"
  | "FieldValueRequired"
  | "FieldValueDuplicate"
  | "FieldValueInvalid"
  | "FieldValueForbidden"
  | "FieldValueTooMany"
  | "InternalError";

/** A bad value as printed: strings quoted, numbers and booleans bare. */
export type BadValue = string | number | boolean | null;

/** One problem with one field. */
export interface FieldError {
  /** What kind of problem. */
  readonly type: FieldErrorType;
  /** The printed field path. */
  readonly field: string;
  /** The offending value; absent for the types that do not print one. */
  readonly value?: BadValue;
  /** The explanation; may be `""`. */
  readonly detail: string;
}

/** `field.Invalid`: `<path>: Invalid value: <value>: <detail>`. */
export function invalid(path: FieldPath, value: BadValue, detail: string): FieldError {
  return { type: "FieldValueInvalid", field: path.toString(), value, detail };
}

/** `field.NotFound`: `<path>: Not found: <value>`. */
export function notFound(path: FieldPath, value: BadValue): FieldError {
  return { type: "FieldValueNotFound", field: path.toString(), value, detail: "" };
}

/** `field.Duplicate`: `<path>: Duplicate value: <value>`. */
export function duplicate(path: FieldPath, value: BadValue): FieldError {
  return { type: "FieldValueDuplicate", field: path.toString(), value, detail: "" };
}

/** `field.Forbidden`: `<path>: Forbidden: <detail>`. */
export function forbidden(path: FieldPath, detail: string): FieldError {
  return { type: "FieldValueForbidden", field: path.toString(), detail };
}

/** `field.Required`: `<path>: Required value: <detail>` (or without the detail when empty). */
export function required(path: FieldPath, detail: string): FieldError {
  return { type: "FieldValueRequired", field: path.toString(), detail };
}

/** `field.TooMany`: `<path>: Too many: <actual>: must have at most <max> items`. */
export function tooMany(path: FieldPath, actual: number, max: number): FieldError {
  return {
    type: "FieldValueTooMany",
    field: path.toString(),
    value: actual,
    detail: `must have at most ${max} items`,
  };
}

/** `field.InternalError`: `<path>: Internal error: <error message>`. */
export function internalError(path: FieldPath, error: unknown): FieldError {
  const detail = error instanceof Error ? error.message : String(error);
  return { type: "InternalError", field: path.toString(), detail };
}

const TYPE_LABEL: Readonly<Record<FieldErrorType, string>> = {
  FieldValueNotFound: "Not found",
  FieldValueRequired: "Required value",
  FieldValueDuplicate: "Duplicate value",
  FieldValueInvalid: "Invalid value",
  FieldValueForbidden: "Forbidden",
  FieldValueTooMany: "Too many",
  InternalError: "Internal error",
};

/** Types whose body never prints the value (apimachinery `ErrorBody`). */
const VALUELESS = new Set<FieldErrorType>([
  "FieldValueRequired",
  "FieldValueForbidden",
  "InternalError",
]);

/**
 * Prints the body of an error without its path (`ErrorBody()`), as used in `details.causes`.
 *
 * @example
 * ```ts
 * import { errorBody, fieldPath, invalid } from "./field_errors.ts";
 * errorBody(invalid(fieldPath("spec"), 8000, "too low")); // "Invalid value: 8000: too low"
 * ```
 */
export function errorBody(error: FieldError): string {
  let body = TYPE_LABEL[error.type];
  if (!VALUELESS.has(error.type)) body += `: ${formatBadValue(error.value ?? null)}`;
  if (error.detail !== "") body += `: ${error.detail}`;
  return body;
}

/** Prints an error as `<path>: <body>` (`Error()`). */
export function formatFieldError(error: FieldError): string {
  return `${error.field}: ${errorBody(error)}`;
}

/**
 * Prints a list as apimachinery's aggregate does: duplicates removed; one error bare, several as
 * `[e1, e2, ...]` in list order; `""` for none.
 *
 * @param errors the errors, in order
 * @returns the aggregate text
 */
export function aggregateFieldErrors(errors: readonly FieldError[]): string {
  const unique = [...new Set(errors.map(formatFieldError))];
  if (unique.length <= 1) return unique[0] ?? "";
  return `[${unique.join(", ")}]`;
}

/** Prints a bad value: strings quoted Go-style, others bare, absent as `null`. */
function formatBadValue(value: BadValue): string {
  if (typeof value === "string") return goQuote(value);
  return String(value);
}

/** Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space. */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
/** Lone UTF-16 surrogates; Go's JSON decoder turns them into U+FFFD before anything prints them. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  "\u0007": "\\a",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\v": "\\v",
  '"': '\\"',
  "\\": "\\\\",
};

/**
 * Quotes a string the way Go's `%q` verb does: double quotes, `\"` and `\\`, short escapes for
 * control characters, `\xHH` for other ASCII controls, `\uHHHH` / `\UHHHHHHHH` for other
 * non-printable characters; printable non-ASCII characters are kept as they are.
 *
 * @example
 * ```ts
 * import { goQuote } from "./field_errors.ts";
 * goQuote('a"b\n'); // "\"a\\\"b\\n\""
 * ```
 */
export function goQuote(value: string): string {
  let out = '"';
  for (const char of value.replace(LONE_SURROGATE, "\uFFFD")) {
    const short = SHORT_ESCAPES[char];
    if (short !== undefined) out += short;
    else if (PRINTABLE.test(char)) out += char;
    else out += escapeCodePoint(char.codePointAt(0) ?? 0);
  }
  return out + '"';
}

function escapeCodePoint(code: number): string {
  if (code < 0x20 || code === 0x7f) return `\\x${hex(code, 2)}`;
  if (code > 0xffff) return `\\U${hex(code, 8)}`;
  return `\\u${hex(code, 4)}`;
}

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, "0");
}
