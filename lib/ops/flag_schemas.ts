/**
 * The zod schema of every flag's value: each raw string from the command line or a
 * `HOSTPORT_*` variable is validated and turned into its typed value here.
 *
 * @module
 */
import * as z from "zod";
import {
  parseBoolean,
  parseDuration,
  parseListenAddress,
  type ValueResult,
} from "./flag_values.ts";
import type { RawValue } from "./flags.ts";

function fromResult<T>(parse: (text: string) => ValueResult<T>) {
  return z.string().transform((text, ctx): T => {
    const result = parse(text);
    if (result.ok) return result.value;
    ctx.addIssue({ code: "custom", message: result.reason });
    return z.NEVER;
  });
}

const name = z.string().trim().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, {
  error: "expected a lower-case DNS name such as hostport-allocator",
}).max(253);
const nameList = z.string().transform((text) => text.split(",").map((item) => item.trim()))
  .pipe(z.array(name.refine((item) => item !== "")));
const duration = fromResult(parseDuration);
const positiveDuration = duration.refine((ms) => ms > 0, { error: "expected a duration above 0" });
const address = fromResult(parseListenAddress);
/** `https://host[:port]` with no path, query or credentials; becomes its origin. */
const webhookUrl = z.string().transform((text, ctx): string => {
  const url = URL.parse(text.trim());
  const bare = url !== null && url.protocol === "https:" && url.username === "" &&
    url.password === "" && (url.pathname === "" || url.pathname === "/") && url.search === "" &&
    url.hash === "";
  if (bare) return url.origin;
  ctx.addIssue({ code: "custom", message: "expected https://host:port, without a path" });
  return z.NEVER;
});

/** The zod schema of each flag's value. */
export const FIELD_SCHEMAS = {
  "kubeconfig": z.string().min(1),
  "context": z.string().min(1),
  "namespace": name,
  "leader-elect": fromResult(parseBoolean),
  "leader-election-id": name,
  "lease-duration": positiveDuration,
  "renew-deadline": positiveDuration,
  "retry-period": positiveDuration,
  "health-addr": address,
  "metrics-addr": z.union([z.literal("0"), address], {
    error: "expected host:port, :port, or 0 to disable metrics",
  }),
  "webhook-addr": address,
  "webhook-cert-dir": z.string().min(1),
  "webhook-self-signed": fromResult(parseBoolean),
  "register-webhooks": webhookUrl,
  "webhook-service-name": name,
  "webhook-service-namespace": name,
  "mutating-webhook-configurations": nameList,
  "validating-webhook-configurations": nameList,
  "workers": z.coerce.number({ error: "expected a whole number from 1 to 64" }).int().min(1).max(
    64,
  ),
  "claim-deletion-grace": positiveDuration,
  "claim-template-wait": positiveDuration,
  "graceful-shutdown-timeout": positiveDuration,
  "log-level": z.enum(["debug", "info", "warn", "error"], {
    error: "expected one of debug, info, warn, error",
  }),
  "log-format": z.enum(["json", "text"], { error: "expected json or text" }),
} as const;

/** A flag with a schema. */
export type FlagName = keyof typeof FIELD_SCHEMAS;
/** The typed value of every flag that was given. */
export type ParsedFlags = { [K in FlagName]?: z.output<typeof FIELD_SCHEMAS[K]> };

/** Thrown inside the parser only, to carry a user-facing message out. */
export class FlagValueError extends Error {
  override name = "FlagValueError";
}

/**
 * Validates every raw value.
 *
 * @throws {FlagValueError} naming the first bad value and where it came from
 */
export function validateFlags(values: ReadonlyMap<string, RawValue>): ParsedFlags {
  const parsed: Record<string, unknown> = {};
  for (const [flag, raw] of values) {
    const schema = FIELD_SCHEMAS[flag as FlagName];
    const result = schema.safeParse(raw.value);
    if (!result.success) {
      const reason = result.error.issues[0]?.message ?? "invalid value";
      throw new FlagValueError(`invalid value "${raw.value}" for ${raw.source}: ${reason}`);
    }
    parsed[flag] = result.data;
  }
  return parsed as ParsedFlags;
}
