/**
 * Field errors shaped and printed like apimachinery's `field.Error` / `field.ErrorList`, values
 * quoted as Go's `%q` does, so admission messages match the original operator's byte for byte
 * (seed 3.2).
 *
 * @module
 */
import { errorMessage } from "../lib/api/mod.ts";

/** How each cause type (`metav1.CauseType`) prints, and whether its body shows the value. */
const TYPES = {
  FieldValueNotFound: { label: "Not found", showsValue: true },
  FieldValueRequired: { label: "Required value", showsValue: false },
  FieldValueDuplicate: { label: "Duplicate value", showsValue: true },
  FieldValueInvalid: { label: "Invalid value", showsValue: true },
  FieldValueForbidden: { label: "Forbidden", showsValue: false },
  FieldValueTooMany: { label: "Too many", showsValue: true },
  InternalError: { label: "Internal error", showsValue: false },
} as const;

/** Cause types, as in `metav1.CauseType` (the values of `details.causes[].type`). */
export type FieldErrorType = keyof typeof TYPES;

/** A bad value as printed: strings quoted, numbers and booleans bare. */
export type BadValue = string | number | boolean | null;

/**
 * One problem with one field: the path printed the Kubernetes way (`spec.pools[0].end`; names
 * joined with `.`, even ones holding `.` or `/`), the offending value (if printed) and a detail.
 */
export interface FieldError {
  readonly type: FieldErrorType;
  readonly field: string;
  readonly value?: BadValue;
  readonly detail: string;
}

/** `field.Invalid`: `<path>: Invalid value: <value>: <detail>`. */
export function invalid(path: string, value: BadValue, detail: string): FieldError {
  return { type: "FieldValueInvalid", field: path, value, detail };
}

/** `field.NotFound`: `<path>: Not found: <value>`. */
export function notFound(path: string, value: BadValue): FieldError {
  return { type: "FieldValueNotFound", field: path, value, detail: "" };
}

/** `field.Duplicate`: `<path>: Duplicate value: <value>`. */
export function duplicate(path: string, value: BadValue): FieldError {
  return { type: "FieldValueDuplicate", field: path, value, detail: "" };
}

/** `field.Forbidden`: `<path>: Forbidden: <detail>`. */
export function forbidden(path: string, detail: string): FieldError {
  return { type: "FieldValueForbidden", field: path, detail };
}

/** `field.Required`: `<path>: Required value: <detail>` (or without the detail when empty). */
export function required(path: string, detail: string): FieldError {
  return { type: "FieldValueRequired", field: path, detail };
}

/** `field.TooMany`: `<path>: Too many: <actual>: must have at most <max> items`. */
export function tooMany(path: string, actual: number, max: number): FieldError {
  const detail = `must have at most ${max} items`;
  return { type: "FieldValueTooMany", field: path, value: actual, detail };
}

/** `field.InternalError`: `<path>: Internal error: <error message>`. */
export function internalError(path: string, error: unknown): FieldError {
  return { type: "InternalError", field: path, detail: errorMessage(error) };
}

/** Prints the body of an error without its path (`ErrorBody()`), as used in `details.causes`. */
export function errorBody(error: FieldError): string {
  const { label, showsValue } = TYPES[error.type];
  const value = error.value ?? null;
  let body = showsValue ? `${label}: ${typeof value === "string" ? goQuote(value) : value}` : label;
  if (error.detail !== "") body += `: ${error.detail}`;
  return body;
}

/**
 * Prints a list as apimachinery's aggregate does, each error as `<path>: <body>` (`Error()`):
 * duplicates removed; one error bare, several as `[e1, e2, ...]` in list order; `""` for none.
 */
export function aggregateFieldErrors(errors: readonly FieldError[]): string {
  const unique = [...new Set(errors.map((error) => `${error.field}: ${errorBody(error)}`))];
  return unique.length <= 1 ? unique[0] ?? "" : `[${unique.join(", ")}]`;
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
 * Quotes a string the way Go's `%q` verb does: short escapes for control characters, `\xHH` for
 * other ASCII controls, `\uHHHH` / `\UHHHHHHHH` for other non-printable characters.
 */
export function goQuote(value: string): string {
  let out = '"';
  for (const char of value.replace(LONE_SURROGATE, "\uFFFD")) {
    const code = char.codePointAt(0) ?? 0;
    if (SHORT_ESCAPES[char] !== undefined) out += SHORT_ESCAPES[char];
    else if (PRINTABLE.test(char)) out += char;
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else if (code > 0xffff) out += `\\U${code.toString(16).padStart(8, "0")}`;
    else out += `\\u${code.toString(16).padStart(4, "0")}`;
  }
  return out + '"';
}
