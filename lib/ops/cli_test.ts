import assert from "node:assert/strict";
import { defaultText, envVarName, FLAGS, type FlagSpec } from "./flags.ts";
import { renderHelp } from "./cli.ts";

Deno.test("renderHelp() lists every flag with its variable and default in aligned columns", () => {
  const lines = renderHelp().split("\n");
  const header = lines.findIndex((line) => line.startsWith("FLAG"));
  assert.ok(header > 0);
  const column = lines[header]!.indexOf("ENVIRONMENT");
  for (const spec of FLAGS as readonly FlagSpec[]) {
    const line = lines.find((l) =>
      l.startsWith(`--${spec.name} `) || l.startsWith(`--${spec.name},`)
    );
    assert.ok(line, `--${spec.name} is listed`);
    assert.equal(line.indexOf(envVarName(spec.name)), column, `${spec.name} is aligned`);
    assert.ok(line.includes(defaultText(spec)) && line.includes(spec.help));
  }
  assert.ok(renderHelp().includes("--leader-elect, --enable-leader-election"));
});

Deno.test("envVarName() prefixes HOSTPORT_ and upper-cases the flag", () => {
  assert.equal(envVarName("log-level"), "HOSTPORT_LOG_LEVEL");
  assert.equal(envVarName("webhook-cert-dir"), "HOSTPORT_WEBHOOK_CERT_DIR");
});
