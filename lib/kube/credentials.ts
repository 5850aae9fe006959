/**
 * Per-request credentials: the `Authorization` header (static token, a token file re-read
 * as it rotates, basic auth, or an exec plugin) and the client certificate (from the
 * kubeconfig, or returned by an exec plugin).
 *
 * @module
 */
import type { ClientCertificate, ClusterConfig } from "./cluster_config.ts";
import { type CommandRunner, ExecCredentialProvider } from "./exec_credential.ts";
import type { ReadTextFile } from "./kubeconfig_resolve.ts";

/** What one request carries. */
export interface RequestCredentials {
  /** The `Authorization` header value. */
  authorization?: string;
  /** The client certificate for the TLS handshake. */
  clientCertificate?: ClientCertificate;
}

/** Supplies credentials; `invalidate()` after a 401 makes the next `get()` fetch fresh ones. */
export interface CredentialSource {
  /** The credentials for the next request. */
  get(): Promise<RequestCredentials>;
  /** Forgets cached tokens (re-reads the token file, re-runs the exec plugin). */
  invalidate(): void;
}

/** Options of `createCredentialSource`. */
export interface CredentialSourceOptions {
  /** Reads the token file; defaults to `Deno.readTextFile`. */
  readFile?: ReadTextFile;
  /** Runs exec plugins. */
  run?: CommandRunner;
  /** The current time in ms; defaults to `Date.now`. */
  now?: () => number;
  /** How long a token file's content is reused before re-reading; defaults to 60 s. */
  tokenFileRefreshMs?: number;
  /** Refresh exec credentials this long before they expire; defaults to 10 s. */
  execRefreshMarginMs?: number;
}

function tokenFileSource(
  path: string,
  base: RequestCredentials,
  options: CredentialSourceOptions,
): CredentialSource {
  const readFile = options.readFile ?? Deno.readTextFile;
  const now = options.now ?? Date.now;
  const refreshMs = options.tokenFileRefreshMs ?? 60_000;
  let token: string | undefined;
  let readAt = 0;
  return {
    async get() {
      if (token === undefined || now() - readAt >= refreshMs) {
        const text = (await readFile(path)).trim();
        // A rotation may briefly leave the file empty; keep the old token then.
        if (text !== "" || token === undefined) token = text;
        readAt = now();
      }
      return { ...base, authorization: `Bearer ${token}` };
    },
    invalidate() {
      token = undefined;
    },
  };
}

function execSource(
  config: ClusterConfig & { auth: { type: "exec" } },
  base: RequestCredentials,
  options: CredentialSourceOptions,
): CredentialSource {
  const cluster = config.caPem === undefined
    ? { server: config.server }
    : { server: config.server, caPem: config.caPem };
  const provider = new ExecCredentialProvider(config.auth.exec, {
    cluster,
    ...(options.run ? { run: options.run } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.execRefreshMarginMs === undefined
      ? {}
      : { refreshMarginMs: options.execRefreshMarginMs }),
  });
  return {
    async get() {
      const credential = await provider.get();
      const out: RequestCredentials = { ...base };
      if (credential.token) out.authorization = `Bearer ${credential.token}`;
      if (credential.clientCertificate) out.clientCertificate = credential.clientCertificate;
      return out;
    },
    invalidate() {
      provider.invalidate();
    },
  };
}

function fixedSource(credentials: RequestCredentials): CredentialSource {
  return { get: () => Promise.resolve(credentials), invalidate() {} };
}

/** Builds the credential source for a resolved config. */
export function createCredentialSource(
  config: ClusterConfig,
  options: CredentialSourceOptions = {},
): CredentialSource {
  const base: RequestCredentials = config.clientCertificate
    ? { clientCertificate: config.clientCertificate }
    : {};
  const auth = config.auth;
  switch (auth.type) {
    case "none":
      return fixedSource(base);
    case "token":
      return fixedSource({ ...base, authorization: `Bearer ${auth.token}` });
    case "basic": {
      const bytes = new TextEncoder().encode(`${auth.username}:${auth.password}`);
      const encoded = btoa(String.fromCharCode(...bytes));
      return fixedSource({ ...base, authorization: `Basic ${encoded}` });
    }
    case "tokenFile":
      return tokenFileSource(auth.path, base, options);
    case "exec":
      return execSource({ ...config, auth }, base, options);
  }
}
