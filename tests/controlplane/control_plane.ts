/**
 * The handle of a running test control plane; {@linkcode startControlPlane} in `harness.ts`
 * creates it.
 *
 * @module
 */
import { join } from "node:path";
import { ApiClient } from "./api_client.ts";
import {
  type ApiServerConfig,
  SERVICE_CLUSTER_IP_RANGE,
  spawnApiServer,
  waitForApiServer,
} from "./api_server.ts";
import type { Binaries } from "./binaries.ts";
import { type RunningControllers, spawnControllers, waitForControllers } from "./controllers.ts";
import { installCrds, loadCrds } from "./crds.ts";
import { ControlPlaneError } from "./errors.ts";
import { compactEtcd, type Etcd } from "./etcd.ts";
import { renderKubeconfig, writePrivateFile } from "./kubeconfig.ts";
import { type KubectlOptions, type KubectlResult, runKubectl } from "./kubectl.ts";
import {
  type ControlPlaneOptions,
  type ControlPlanePids,
  DEFAULT_START_TIMEOUT_MS,
  KEEP_RUN_DIR_ENV,
} from "./options.ts";
import {
  type ControlPlanePki,
  createControllersPki,
  createWebhookTls,
  type WebhookTls,
} from "./pki.ts";
import { DEFAULT_STOP_GRACE_MS, freePort, type ManagedProcess } from "./process.ts";
import { requestServiceAccountToken } from "./service_accounts.ts";

/** A running control plane; create it with `startControlPlane()`. */
export class ControlPlane implements AsyncDisposable {
  /** Base URL of the apiserver, `https://127.0.0.1:<port>`. */
  readonly url: string;
  /** Kubeconfig that authenticates as the admin (`CN=admin, O=system:masters`). */
  readonly kubeconfigPath: string;
  /** Temporary directory holding certificates, etcd data, kubeconfigs and (by default) logs. */
  readonly runDir: string;
  /** Directory holding the logs. */
  readonly logDir: string;
  /** Directory holding kube-apiserver, etcd, kubectl and the controllers. */
  readonly binDir: string;
  /** Path of the built kubectl. */
  readonly kubectlPath: string;
  /** etcd's client URL. */
  readonly etcdUrl: string;
  /** CA that signed the apiserver's serving certificate and the admin certificate (PEM). */
  readonly caPem: string;
  /** File holding `caPem`. */
  readonly caFile: string;
  /** Admin client certificate (PEM). */
  readonly adminCertPem: string;
  /** Admin client key (PEM). */
  readonly adminKeyPem: string;
  /** File holding `adminCertPem`. */
  readonly adminCertFile: string;
  /** File holding `adminKeyPem`. */
  readonly adminKeyFile: string;
  /** Environment for child processes: `KUBECONFIG`, `KUBEBUILDER_ASSETS`, and `PATH` with kubectl. */
  readonly env: Readonly<Record<string, string>>;
  #options: ControlPlaneOptions;
  #etcd: Etcd;
  #config: ApiServerConfig;
  #apiServer: ManagedProcess | undefined;
  #binaries: Binaries;
  #controllers: RunningControllers | undefined;
  #admin: ApiClient;
  #webhookTls: Promise<WebhookTls> | undefined;
  #tokenKubeconfigs = new Map<string, string>();
  #stopping: Promise<void> | undefined;

  /** Wraps started parts; use {@linkcode startControlPlane} instead. */
  constructor(
    parts: { binaries: Binaries; runDir: string; logDir: string; pki: ControlPlanePki; etcd: Etcd },
    options: ControlPlaneOptions,
  ) {
    const { binaries, runDir, logDir, pki, etcd } = parts;
    const port = freePort();
    this.url = `https://127.0.0.1:${port}`;
    this.runDir = runDir;
    this.logDir = logDir;
    this.kubeconfigPath = join(runDir, "kubeconfig");
    this.binDir = binaries.binDir;
    this.kubectlPath = binaries.kubectl;
    this.etcdUrl = etcd.url;
    this.caPem = pki.ca.certPem;
    this.caFile = pki.ca.certFile;
    this.adminCertPem = pki.admin.certPem;
    this.adminKeyPem = pki.admin.keyPem;
    this.adminCertFile = pki.admin.certFile;
    this.adminKeyFile = pki.admin.keyFile;
    this.env = {
      KUBECONFIG: this.kubeconfigPath,
      KUBEBUILDER_ASSETS: binaries.binDir,
      PATH: `${binaries.binDir}:${Deno.env.get("PATH") ?? ""}`,
    };
    this.#options = options;
    this.#binaries = binaries;
    this.#etcd = etcd;
    this.#config = {
      binary: binaries.kubeApiServer,
      port,
      etcdUrl: etcd.url,
      pki,
      runDir,
      logPath: join(logDir, "kube-apiserver.log"),
      watchCache: options.watchCache ?? true,
      extraArgs: options.apiServerArgs ?? [],
    };
    this.#admin = new ApiClient(this.url, {
      caPem: pki.ca.certPem,
      certPem: pki.admin.certPem,
      keyPem: pki.admin.keyPem,
    });
  }

  /** Process ids of etcd, kube-apiserver, and the controllers when they run. */
  get pids(): ControlPlanePids {
    const pids: ControlPlanePids = {
      etcd: this.#etcd.process.pid,
      kubeApiServer: this.#apiServer?.pid,
    };
    if (this.#controllers !== undefined) {
      pids.kubeControllerManager = this.#controllers.controllerManager.pid;
      pids.kubeScheduler = this.#controllers.scheduler.pid;
    }
    return pids;
  }

  /** Sends a request to `path` as the admin and returns the raw response (watches included). */
  fetch(path: string, init?: RequestInit): Promise<Response> {
    return this.#admin.fetch(path, init);
  }

  /** Runs the built kubectl as the admin, or as the holder of `options.token`. */
  async kubectl(args: readonly string[], options: KubectlOptions = {}): Promise<KubectlResult> {
    const kubeconfig = options.token === undefined
      ? this.kubeconfigPath
      : await this.tokenKubeconfig(options.token);
    const run = { kubeconfig, cacheDir: join(this.runDir, "kube-cache") };
    return await runKubectl(
      this.kubectlPath,
      args,
      options.stdin === undefined ? run : { ...run, stdin: options.stdin },
    );
  }

  /** Writes (once per token) a kubeconfig that authenticates with `token`; returns its path. */
  async tokenKubeconfig(token: string): Promise<string> {
    let path = this.#tokenKubeconfigs.get(token);
    if (path === undefined) {
      path = join(this.runDir, `token-${this.#tokenKubeconfigs.size + 1}.kubeconfig`);
      await writePrivateFile(path, renderKubeconfig(this.url, this.caPem, { token }));
      this.#tokenKubeconfigs.set(token, path);
    }
    return path;
  }

  /**
   * Returns a TokenRequest token for ServiceAccount `namespace/name`, creating the namespace and
   * the ServiceAccount when missing. It authenticates as `system:serviceaccount:<ns>:<name>`.
   */
  serviceAccountToken(
    namespace: string,
    name: string,
    options: { expirationSeconds?: number } = {},
  ): Promise<string> {
    return requestServiceAccountToken(
      this.#admin,
      namespace,
      name,
      options.expirationSeconds ?? 3600,
    );
  }

  /**
   * Returns (made once per control plane) a serving certificate for `127.0.0.1` and `localhost`
   * signed by a CA of its own, for tests that run an admission webhook server; put `caBundle`
   * in the webhook configuration's `clientConfig`.
   */
  webhookTls(): Promise<WebhookTls> {
    this.#webhookTls ??= createWebhookTls(join(this.runDir, "webhook-pki"));
    return this.#webhookTls;
  }

  /** Installs (server-side apply) the CRDs in `dir` and waits until they are served. */
  async installCrds(dir: string): Promise<void> {
    const timeout = this.#options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    await installCrds(this.#admin, await loadCrds(dir), timeout);
  }

  /**
   * Starts kube-controller-manager and kube-scheduler and waits until they work (what the
   * `controllers` option does at startup).
   *
   * @throws {ControlPlaneError} when they already run, or do not come up in time
   */
  async startControllers(): Promise<void> {
    if (this.#stopping !== undefined) {
      throw new ControlPlaneError("Cannot start the controllers: the control plane is stopped");
    }
    if (this.#controllers !== undefined) {
      throw new ControlPlaneError("Cannot start the controllers: they are already running");
    }
    const pki = this.#config.pki;
    const controllersPki = await createControllersPki(join(this.runDir, "controllers-pki"), pki.ca);
    this.#controllers = await spawnControllers({
      controllerManagerBinary: this.#binaries.kubeControllerManager,
      schedulerBinary: this.#binaries.kubeScheduler,
      apiServerUrl: this.url,
      pki,
      controllersPki,
      serviceClusterIpRange: SERVICE_CLUSTER_IP_RANGE,
      runDir: this.runDir,
      logDir: this.logDir,
    });
    await waitForControllers(
      this.#controllers,
      this.#admin,
      pki.ca.certPem,
      this.#options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    );
  }

  /** Stops kube-apiserver only; etcd keeps the data for {@linkcode ControlPlane.startApiServer}. */
  async stopApiServer(): Promise<void> {
    const process = this.#apiServer;
    this.#apiServer = undefined;
    await process?.stop(this.#options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS);
  }

  /**
   * Starts kube-apiserver (again) on the same port and etcd, and waits until it is ready.
   *
   * @throws {ControlPlaneError} when it is already running, or does not become ready in time
   */
  async startApiServer(): Promise<void> {
    if (this.#stopping !== undefined) {
      throw new ControlPlaneError("Cannot start kube-apiserver: the control plane is stopped");
    }
    if (this.#apiServer?.running) {
      throw new ControlPlaneError("Cannot start kube-apiserver: it is already running");
    }
    this.#apiServer = spawnApiServer(this.#config);
    await waitForApiServer(
      this.#admin,
      this.#apiServer,
      this.#options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    );
  }

  /**
   * Compacts etcd to its current revision and returns that revision, so that older
   * resourceVersions become "too old" in etcd. What a client then sees (measured on 1.35.4):
   *
   * - with `watchCache: false`, a watch from an older resourceVersion gets an `ERROR` event with
   *   code 410 (Expired), and a list with `resourceVersionMatch=Exact` gets HTTP 410;
   * - with the watch cache (the default), compaction alone changes nothing a client can see:
   *   the cache still serves its in-memory window. A restart of kube-apiserver
   *   ({@linkcode ControlPlane.stopApiServer} + {@linkcode ControlPlane.startApiServer}) is
   *   what expires every older resourceVersion there: a watch from any of them gets the 410
   *   `ERROR` event "too old resource version".
   */
  compactEtcd(): Promise<number> {
    return compactEtcd(this.#etcd.url);
  }

  /**
   * Stops the controllers, then kube-apiserver, then etcd (SIGTERM, then SIGKILL after the grace period), and removes
   * the run dir unless told to keep it. Idempotent: later calls wait for the first one.
   */
  stop(options: { keepRunDir?: boolean } = {}): Promise<void> {
    this.#stopping ??= this.#stop(options.keepRunDir ?? this.#options.keepRunDir ?? false);
    return this.#stopping;
  }

  async #stop(keepRunDir: boolean): Promise<void> {
    const grace = this.#options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
    this.#admin.close();
    try {
      await Promise.all([
        this.#controllers?.controllerManager.stop(grace),
        this.#controllers?.scheduler.stop(grace),
      ]);
    } finally {
      try {
        await this.#apiServer?.stop(grace);
      } finally {
        await this.#etcd.process.stop(grace);
      }
    }
    if (!keepRunDir && Deno.env.get(KEEP_RUN_DIR_ENV) !== "1") {
      await Deno.remove(this.runDir, { recursive: true }).catch(() => {});
    }
  }

  /** Same as {@linkcode ControlPlane.stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
