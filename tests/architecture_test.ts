/**
 * Enforces the dependency direction of docs/architecture.md and style.md section 3.3 by reading the
 * import specifiers of every source file: the pure core imports nothing it must not, and touches
 * no Deno API, clock, environment or randomness.
 */
import assert from "node:assert/strict";

interface Rule {
  /** Folder the rule applies to, relative to the repository root. */
  folder: string;
  /** Import targets (relative to the root) or bare packages this folder may use. */
  mayImport: readonly string[];
  /** Whether the folder is pure: no Deno API, clock or randomness. */
  pure: boolean;
  /** Files of the folder the rule skips (the I/O edge of a mostly pure folder). */
  skip?: RegExp;
}

const RULES: readonly Rule[] = [
  { folder: "lib/allocator", mayImport: ["lib/allocator"], pure: true },
  {
    folder: "lib/api",
    mayImport: ["lib/api", "lib/allocator", "zod", "kubernetes-types"],
    pure: true,
  },
  { folder: "lib/quota", mayImport: ["lib/quota", "lib/api", "kubernetes-types"], pure: true },
  {
    folder: "lib/reconcile",
    mayImport: ["lib/reconcile", "lib/api", "lib/allocator", "lib/quota"],
    pure: true,
  },
  {
    // The admission decisions are pure; only the HTTP/TLS edge (server*, tls*) does I/O.
    folder: "webhook",
    mayImport: [
      "webhook",
      "lib/api",
      "lib/allocator",
      "lib/quota",
      "zod",
      "kubernetes-types",
      "fast-json-patch",
    ],
    pure: true,
    skip: /^(server|tls)/,
  },
];

/** Everything a pure module must not touch, each with what to do instead. */
const IMPURE_PATTERNS: ReadonlyArray<[RegExp, string]> = [
  [/\bDeno\./, "Deno API"],
  [/\bDate\.now\(|\bnew Date\(\s*\)/, "the clock"],
  [/\bperformance\.now\(/, "the clock"],
  [/\bMath\.random\(/, "randomness"],
  [/\bcrypto\.getRandomValues\(|\bcrypto\.randomUUID\(/, "randomness"],
  [/\bsetTimeout\(|\bsetInterval\(/, "timers"],
  [/\bfetch\(/, "the network"],
];

const ROOT = new URL("../", import.meta.url);

async function* sourceFiles(folder: URL, skip?: RegExp): AsyncGenerator<URL> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(folder));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  for (const entry of entries) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), folder);
    if (skip?.test(entry.name)) continue;
    if (entry.isDirectory) yield* sourceFiles(url, skip);
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) yield url;
  }
}

function importSpecifiers(source: string): string[] {
  const found: string[] = [];
  const pattern = /(?:^|\n)\s*(?:import|export)\b[^"'`;]*?from\s*["']([^"']+)["']/g;
  for (const match of source.matchAll(pattern)) found.push(match[1]!);
  for (const match of source.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) found.push(match[1]!);
  return found;
}

function relativeToRoot(url: URL): string {
  return url.pathname.slice(ROOT.pathname.length);
}

/** Returns the allowed prefix an import matches, or undefined when it is forbidden. */
function allowedTarget(rule: Rule, file: URL, specifier: string): string | undefined {
  if (specifier.startsWith(".")) {
    const target = relativeToRoot(new URL(specifier, file));
    return rule.mayImport.find((allowed) => target.startsWith(allowed + "/"));
  }
  return rule.mayImport.find((allowed) =>
    specifier === allowed || specifier.startsWith(allowed + "/")
  );
}

for (const rule of RULES) {
  Deno.test(`${rule.folder} imports only ${rule.mayImport.join(", ")}`, async () => {
    const violations: string[] = [];
    for await (const file of sourceFiles(new URL(rule.folder + "/", ROOT), rule.skip)) {
      const source = await Deno.readTextFile(file);
      for (const specifier of importSpecifiers(source)) {
        if (allowedTarget(rule, file, specifier) === undefined) {
          violations.push(`${relativeToRoot(file)} imports "${specifier}"`);
        }
      }
    }
    assert.deepEqual(violations, []);
  });

  if (!rule.pure) continue;
  Deno.test(`${rule.folder} does no I/O and reads no clock, environment or randomness`, async () => {
    const violations: string[] = [];
    for await (const file of sourceFiles(new URL(rule.folder + "/", ROOT), rule.skip)) {
      const lines = (await Deno.readTextFile(file)).split("\n");
      lines.forEach((line, index) => {
        const code = line.replace(/\/\/.*$/, "");
        if (/^\s*\*/.test(code)) return; // JSDoc examples may show usage
        for (const [pattern, what] of IMPURE_PATTERNS) {
          if (pattern.test(code)) {
            violations.push(`${relativeToRoot(file)}:${index + 1} uses ${what}: ${line.trim()}`);
          }
        }
      });
    }
    assert.deepEqual(violations, []);
  });
}

Deno.test("importSpecifiers() finds static, re-exported and dynamic imports", () => {
  const source = [
    'import { a } from "./a.ts";',
    'import type { B } from "../b/mod.ts";',
    'export * from "./c.ts";',
    'export { d } from "zod";',
    'const e = await import("./e.ts");',
  ].join("\n");
  assert.deepEqual(importSpecifiers(source), ["./a.ts", "../b/mod.ts", "./c.ts", "zod", "./e.ts"]);
});

Deno.test("the rules reject an import from outside the allowed folders", () => {
  const rule = RULES[0]!;
  const file = new URL("lib/allocator/port_registry.ts", ROOT);
  assert.equal(allowedTarget(rule, file, "./port_range.ts"), "lib/allocator");
  assert.equal(allowedTarget(rule, file, "../api/mod.ts"), undefined);
  assert.equal(allowedTarget(rule, file, "zod"), undefined);
});
