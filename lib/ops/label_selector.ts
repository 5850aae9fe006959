/**
 * Label selectors in kubectl's string form (`hostport.rmb938.com=true,tier in (a,b),!legacy`),
 * parsed into the `LabelSelector` shape of the API and matched against a label map. Used for
 * `--pod-namespace-selector`.
 *
 * @module
 */
import type { LabelSelector, LabelSelectorRequirement } from "kubernetes-types/meta/v1.d.ts";
import type { ValueResult } from "./flag_values.ts";

export type { LabelSelector };

const KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** Splits on commas that are not inside a `( ... )` value list. */
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")") depth--;
    else if (text[i] === "," && depth === 0) {
      terms.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  terms.push(text.slice(start).trim());
  return terms;
}

type Term = { key: string; value: string } | LabelSelectorRequirement;

function parseTerm(term: string): Term | string {
  const set = /^(\S+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(term);
  if (set) {
    const values = set[3]!.split(",").map((value) => value.trim());
    const bad = values.find((value) => !VALUE.test(value));
    if (bad !== undefined) return `"${bad}" is not a valid label value`;
    return { key: set[1]!, operator: set[2] === "in" ? "In" : "NotIn", values };
  }
  const compare = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
  if (compare) {
    if (!VALUE.test(compare[3]!)) return `"${compare[3]}" is not a valid label value`;
    if (compare[2] === "!=") {
      return { key: compare[1]!, operator: "NotIn", values: [compare[3]!] };
    }
    return { key: compare[1]!, value: compare[3]! };
  }
  const exists = /^(!?)\s*([^=!\s()]+)$/.exec(term);
  if (exists) return { key: exists[2]!, operator: exists[1] ? "DoesNotExist" : "Exists" };
  return `cannot parse "${term}"`;
}

/**
 * Parses a selector string. The empty string selects everything.
 *
 * @example
 * ```ts
 * import { parseLabelSelector } from "./label_selector.ts";
 * parseLabelSelector("hostport.rmb938.com=true");
 * // { ok: true, value: { matchLabels: { "hostport.rmb938.com": "true" } } }
 * ```
 */
export function parseLabelSelector(text: string): ValueResult<LabelSelector> {
  const selector: {
    matchLabels?: Record<string, string>;
    matchExpressions?: LabelSelectorRequirement[];
  } = {};
  if (text.trim() === "") return { ok: true, value: selector };
  for (const raw of splitTerms(text)) {
    const term = parseTerm(raw);
    if (typeof term === "string") return { ok: false, reason: term };
    if (!KEY.test(term.key)) return { ok: false, reason: `"${term.key}" is not a valid label key` };
    if ("value" in term) {
      selector.matchLabels = { ...selector.matchLabels, [term.key]: term.value };
    } else {
      selector.matchExpressions = [...selector.matchExpressions ?? [], term];
    }
  }
  return { ok: true, value: selector };
}

function matchesRequirement(
  requirement: LabelSelectorRequirement,
  labels: Readonly<Record<string, string>>,
): boolean {
  const has = Object.hasOwn(labels, requirement.key);
  const value = labels[requirement.key];
  switch (requirement.operator) {
    case "In":
      return has && (requirement.values ?? []).includes(value!);
    case "NotIn":
      return !has || !(requirement.values ?? []).includes(value!);
    case "Exists":
      return has;
    case "DoesNotExist":
      return !has;
    default:
      return false; // an unknown operator selects nothing, as the API server does
  }
}

/** Whether `labels` satisfy every term of `selector` (an empty selector matches all). */
export function matchesLabelSelector(
  selector: LabelSelector,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  const actual = labels ?? {};
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (actual[key] !== value) return false;
  }
  return (selector.matchExpressions ?? []).every((r) => matchesRequirement(r, actual));
}
