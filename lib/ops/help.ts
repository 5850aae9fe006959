/**
 * The `--help` text: usage, then one row per flag with its environment variable and
 * default, laid out as an aligned table (the README copies it).
 *
 * @module
 */
import { defaultText, envVarName, FLAGS, type FlagSpec } from "./flags.ts";

function row(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((cell, i) => i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)).join("  ")
    .trimEnd();
}

/** Renders the help text (ends with a newline). */
export function renderHelp(): string {
  const header = ["FLAG", "ENVIRONMENT", "DEFAULT", "DESCRIPTION"];
  const rows = (FLAGS as readonly FlagSpec[]).map((spec) => {
    const names = [spec.name, ...spec.aliases ?? []].map((n) => `--${n}`).join(", ");
    const value = spec.kind === "boolean" ? "" : " VALUE";
    return [`${names}${value}`, envVarName(spec.name), defaultText(spec), spec.help];
  });
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((r) => r[i]!.length)));
  const lines = [
    "hostport-allocator: hands out host ports to HostPortClaims and admits the pods that use them",
    "",
    "Usage: deno run --allow-all mod.ts [FLAGS]",
    "",
    row(header, widths),
    ...rows.map((r) => row(r, widths)),
    "",
    "Booleans accept --flag, --flag=true and --flag=false. Durations look like 500ms, 15s, 1m30s.",
    "A flag beats its environment variable. --help prints this text.",
  ];
  return `${lines.join("\n")}\n`;
}
