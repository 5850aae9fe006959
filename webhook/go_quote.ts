/**
 * Go's `%q` quoting of strings (`strconv.Quote`), so messages built from field errors match the
 * original operator's byte for byte, even for odd input.
 *
 * @module
 */

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
 * import { goQuote } from "./go_quote.ts";
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
