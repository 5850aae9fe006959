/**
 * A real one-node Kubernetes v1.35.4 on this machine, started by hand (no systemd): etcd,
 * kube-apiserver on the bridge address, containerd 1.6 + runc with the CNI bridge and portmap
 * plugins, kube-controller-manager, kube-scheduler, kube-proxy (iptables) and a kubelet on cgroup
 * v1. Only `keeper.ts` uses this: it owns the node and sweeps the host afterwards (`host.ts`).
 *
 * @module
 */
import { join } from "node:path";
import { stringify } from "yaml";
import { ApiClient } from "../controlplane/api_client.ts";
import { answers, waitForApiServer } from "../controlplane/api_server.ts";
import {
  type RunningControllers,
  spawnControllers,
  waitForControllers,
} from "../controlplane/controllers.ts";
import { spawnEtcd, waitForEtcd } from "../controlplane/etcd.ts";
import { renderKubeconfig, writePrivateFile } from "../controlplane/kubeconfig.ts";
import {
  createControllersPki,
  createControlPlanePki,
  createLeaf,
  type TlsPair,
} from "../controlplane/pki.ts";
import { type ManagedProcess, spawnManaged } from "../controlplane/process.ts";
import { waitUntil } from "../controlplane/wait.ts";
import {
  API_PORT,
  API_SERVICE_IP,
  API_URL,
  BRIDGE,
  CNI_BIN_DIR,
  CONTAINERD_SOCKET,
  GUARD_CHAIN,
  LOG_DIR,
  NODE_DIR,
  NODE_IP,
  NODE_NAME,
  PAUSE_IMAGE,
  POD_CIDR,
  RUN_DIR,
  SERVICE_CIDR,
} from "./config.ts";
import { must, run, type RunResult } from "./host.ts";

const START_TIMEOUT_MS = 120_000;

/** Where the node's binaries and image archives are. */
export interface NodeInputs {
  /** Directory of build.sh --node: etcd, kube-apiserver, kubectl, the controllers, kubelet, kube-proxy. */
  binDir: string;
  /** The image archives to import. */
  images: string[];
}

/** A running node. */
export class Node {
  /** The admin kubeconfig (`O=system:masters`). */
  readonly kubeconfig = join(NODE_DIR, "pki", "admin.kubeconfig");
  #processes: ManagedProcess[] = [];
  #controllers: RunningControllers | undefined;
  #admin: ApiClient | undefined;
  #log: (line: string) => void;
  #binDir: string;

  /** A node not started yet; see {@linkcode Node.start}. */
  constructor(binDir: string, log: (line: string) => void) {
    this.#binDir = binDir;
    this.#log = log;
  }

  /** The node's processes (controllers included) with their names. */
  get processes(): ManagedProcess[] {
    const controllers = this.#controllers === undefined
      ? []
      : [this.#controllers.controllerManager, this.#controllers.scheduler];
    return [...this.#processes, ...controllers];
  }

  #spawn(name: string, args: string[]): ManagedProcess {
    const process = spawnManaged(name, join(this.#binDir, name), args, {
      logPath: join(LOG_DIR, `${name}.log`),
    });
    this.#processes.push(process);
    return process;
  }

  async #step<T>(name: string, action: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const value = await action();
    this.#log(`${name}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return value;
  }

  /**
   * Brings the node up and waits until it is Ready, untainted, and the `default` ServiceAccount
   * exists. On failure the processes it started keep running: call {@linkcode Node.stop}.
   */
  async start(images: string[]): Promise<void> {
    await Deno.mkdir(LOG_DIR, { recursive: true });
    const pki = await this.#step("certificates", () => this.#pki());
    await this.#step("network", () => this.#network());
    const etcd = await this.#step("etcd", async () => {
      const etcd = spawnEtcd({
        binary: join(this.#binDir, "etcd"),
        runDir: NODE_DIR,
        logPath: join(LOG_DIR, "etcd.log"),
      });
      this.#processes.push(etcd.process);
      await waitForEtcd(etcd, START_TIMEOUT_MS);
      return etcd;
    });
    const admin = new ApiClient(API_URL, {
      caPem: pki.ca.certPem,
      certPem: pki.admin.certPem,
      keyPem: pki.admin.keyPem,
    });
    this.#admin = admin;
    await this.#step("kube-apiserver", async () => {
      const apiServer = this.#spawn("kube-apiserver", apiServerArgs(pki, etcd.url));
      await waitForApiServer(admin, apiServer, START_TIMEOUT_MS);
    });
    await this.#step("containerd and images", async () => {
      const containerd = await this.#containerd();
      for (const image of images) {
        await waitUntil(async () => (await ctr(["images", "import", image])).code === 0, {
          what: `containerd to import ${image}`,
          timeoutMs: START_TIMEOUT_MS,
          process: containerd,
        });
      }
    });
    await this.#step("kube-controller-manager and kube-scheduler", async () => {
      this.#controllers = await spawnControllers({
        controllerManagerBinary: join(this.#binDir, "kube-controller-manager"),
        schedulerBinary: join(this.#binDir, "kube-scheduler"),
        apiServerUrl: API_URL,
        pki: pki.controlPlane,
        controllersPki: await createControllersPki(join(NODE_DIR, "pki"), pki.ca),
        serviceClusterIpRange: SERVICE_CIDR,
        runDir: NODE_DIR,
        logDir: LOG_DIR,
      });
      await waitForControllers(this.#controllers, admin, pki.ca.certPem, START_TIMEOUT_MS);
    });
    await this.#step("kube-proxy and kubelet", async () => {
      this.#kubeProxy();
      const kubelet = await this.#kubelet(pki);
      await waitUntil(() => nodeReady(admin), {
        what: `node ${NODE_NAME} to be Ready and untainted`,
        timeoutMs: START_TIMEOUT_MS,
        process: kubelet,
      });
    });
  }

  async #pki() {
    const dir = join(NODE_DIR, "pki");
    // The harness's PKI (CA, admin, ServiceAccount keys) plus what a node needs: an API server
    // certificate for the bridge address and the `kubernetes` Service, and the node's parts.
    const controlPlane = await createControlPlanePki(dir);
    const { ca } = controlPlane;
    const leaf = (name: string, subject: string, extensions: string[]) =>
      createLeaf(dir, name, { ca, subject, extensions });
    const client = (name: string, subject: string) =>
      leaf(name, subject, ["extendedKeyUsage=clientAuth"]);
    controlPlane.apiServer = await leaf("apiserver-node", "/CN=kube-apiserver", [
      "extendedKeyUsage=serverAuth",
      `subjectAltName=IP:${NODE_IP},IP:${API_SERVICE_IP},IP:127.0.0.1,DNS:localhost,` +
      "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc," +
      "DNS:kubernetes.default.svc.cluster.local",
    ]);
    const pki = {
      controlPlane,
      ca,
      admin: controlPlane.admin,
      apiServerKubeletClient: await client(
        "apiserver-kubelet-client",
        "/O=system:masters/CN=kube-apiserver-kubelet-client",
      ),
      kubelet: await client("kubelet", `/O=system:nodes/CN=system:node:${NODE_NAME}`),
      kubeletServing: await leaf("kubelet-serving", `/CN=${NODE_NAME}`, [
        "extendedKeyUsage=serverAuth",
        `subjectAltName=IP:${NODE_IP},DNS:${NODE_NAME}`,
      ]),
      kubeProxy: await client("kube-proxy", "/CN=system:kube-proxy"),
    };
    for (
      const [name, pair] of [["admin", pki.admin], ["kubelet", pki.kubelet], [
        "kube-proxy",
        pki.kubeProxy,
      ]] as const
    ) {
      await writePrivateFile(
        join(dir, `${name}.kubeconfig`),
        renderKubeconfig(API_URL, ca.certPem, pair),
      );
    }
    return pki;
  }

  async #network(): Promise<void> {
    await must("ip", ["link", "add", BRIDGE, "type", "bridge"]);
    await must("ip", ["addr", "add", `${NODE_IP}/${POD_CIDR.split("/")[1]}`, "dev", BRIDGE]);
    await must("ip", ["link", "set", BRIDGE, "up"]);
    // Pods reach the node and each other, nothing beyond: whatever comes from the pod network
    // and would leave by another interface is dropped, first thing in FORWARD.
    await must("iptables", ["-N", GUARD_CHAIN]);
    await must("iptables", ["-A", GUARD_CHAIN, "-s", POD_CIDR, "!", "-o", BRIDGE, "-j", "DROP"]);
    await must("iptables", ["-I", "FORWARD", "1", "-j", GUARD_CHAIN]);
    const netDir = join(NODE_DIR, "cni", "net.d");
    await Deno.mkdir(netDir, { recursive: true });
    await Deno.writeTextFile(
      join(netDir, "10-k8s-node.conflist"),
      JSON.stringify({
        cniVersion: "1.0.0",
        name: "k8s-node",
        plugins: [
          {
            type: "bridge",
            bridge: BRIDGE,
            isGateway: true,
            ipMasq: false, // no pod traffic is masqueraded out of the machine
            hairpinMode: true,
            ipam: {
              type: "host-local",
              dataDir: join(NODE_DIR, "cni", "networks"),
              ranges: [[{ subnet: POD_CIDR, gateway: NODE_IP }]],
              routes: [{ dst: "0.0.0.0/0" }],
            },
          },
          // snat makes 127.0.0.1:<hostPort> reach the pod, not only the node's address.
          { type: "portmap", capabilities: { portMappings: true }, snat: true },
        ],
      }),
    );
  }

  async #containerd(): Promise<ManagedProcess> {
    const dir = join(NODE_DIR, "containerd");
    await Deno.mkdir(dir, { recursive: true });
    await Deno.mkdir(join(RUN_DIR, "containerd"), { recursive: true });
    const config = join(dir, "config.toml");
    await Deno.writeTextFile(
      config,
      `version = 2
root = "${dir}/root"
state = "${RUN_DIR}/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "${CONTAINERD_SOCKET}"
[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  enable_selinux = false
  # Root here may lack CAP_SYS_RESOURCE, and then nothing may lower its oom_score_adj: runc dies
  # writing the sandbox's -998. This clamps every container's score to containerd's own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "${RUN_DIR}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${CNI_BIN_DIR}"
    conf_dir = "${NODE_DIR}/cni/net.d"
`,
    );
    const process = spawnManaged("containerd", "/usr/bin/containerd", ["--config", config], {
      logPath: join(LOG_DIR, "containerd.log"),
    });
    this.#processes.push(process);
    await waitUntil(async () => (await ctr(["version"])).code === 0, {
      what: "containerd to answer",
      timeoutMs: START_TIMEOUT_MS,
      process,
    });
    return process;
  }

  #kubeProxy(): ManagedProcess {
    const config = join(NODE_DIR, "kube-proxy.yaml");
    Deno.writeTextFileSync(
      config,
      stringify({
        apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
        kind: "KubeProxyConfiguration",
        clientConnection: { kubeconfig: join(NODE_DIR, "pki", "kube-proxy.kubeconfig") },
        hostnameOverride: NODE_NAME,
        mode: "iptables",
        clusterCIDR: POD_CIDR,
        healthzBindAddress: "127.0.0.1:10256",
        metricsBindAddress: "127.0.0.1:10249",
        // Zeros: kube-proxy leaves the host's conntrack settings alone.
        conntrack: {
          maxPerCore: 0,
          min: 0,
          tcpEstablishedTimeout: "0s",
          tcpCloseWaitTimeout: "0s",
        },
        // No NodePorts on 127.0.0.1, so no route_localnet.
        iptables: { localhostNodePorts: false },
      }),
    );
    return this.#spawn("kube-proxy", [`--config=${config}`, "--v=1"]);
  }

  async #kubelet(pki: { ca: TlsPair; kubeletServing: TlsPair }): Promise<ManagedProcess> {
    const config = join(NODE_DIR, "kubelet.yaml");
    await Deno.mkdir(join(NODE_DIR, "kubelet"), { recursive: true });
    await Deno.writeTextFile(
      config,
      stringify({
        apiVersion: "kubelet.config.k8s.io/v1beta1",
        kind: "KubeletConfiguration",
        failCgroupV1: false, // 1.35 refuses cgroup v1 without it
        cgroupDriver: "cgroupfs", // no systemd
        containerRuntimeEndpoint: `unix://${CONTAINERD_SOCKET}`,
        address: NODE_IP,
        port: 10250,
        readOnlyPort: 0,
        healthzBindAddress: "127.0.0.1",
        healthzPort: 10248,
        tlsCertFile: pki.kubeletServing.certFile,
        tlsPrivateKeyFile: pki.kubeletServing.keyFile,
        rotateCertificates: false,
        serverTLSBootstrap: false,
        authentication: {
          anonymous: { enabled: false },
          webhook: { enabled: false },
          x509: { clientCAFile: pki.ca.certFile },
        },
        authorization: { mode: "AlwaysAllow" },
        clusterDomain: "cluster.local",
        resolvConf: "", // no nameserver in pods: no lookup leaves the node
        failSwapOn: false,
        podLogsDir: join(NODE_DIR, "pod-logs"),
        // Never collect images: ours cannot be pulled back.
        imageGCHighThresholdPercent: 100,
        imageGCLowThresholdPercent: 99,
        evictionHard: {
          "memory.available": "100Mi",
          "nodefs.available": "1%",
          "imagefs.available": "1%",
          "nodefs.inodesFree": "1%",
        },
        serializeImagePulls: false,
      }),
    );
    return this.#spawn("kubelet", [
      `--config=${config}`,
      `--kubeconfig=${join(NODE_DIR, "pki", "kubelet.kubeconfig")}`,
      `--hostname-override=${NODE_NAME}`,
      `--node-ip=${NODE_IP}`,
      `--root-dir=${join(NODE_DIR, "kubelet")}`,
      "--v=1",
    ]);
  }

  /**
   * Stops the node in order: pods deleted through the API (so the CNI plugins remove their
   * rules and veths), then the kubelet and the controllers, containerd's last tasks, containerd,
   * the API server and etcd. Leaves what remains to `sweep()`.
   */
  async stop(): Promise<void> {
    const byName = (name: string) => this.processes.find((p) => p.name === name);
    const alive = (name: string) => byName(name)?.running === true;
    if (this.#admin !== undefined && alive("kube-apiserver") && alive("kubelet")) {
      await this.#step("pods deleted", async () => {
        const kubectl = join(this.#binDir, "kubectl");
        const base = [`--kubeconfig=${this.kubeconfig}`, "--request-timeout=20s"];
        await run(kubectl, [
          ...base,
          "delete",
          "validatingwebhookconfigurations,mutatingwebhookconfigurations",
          "--all",
        ]);
        await run(kubectl, [
          ...base,
          "delete",
          "deployments,replicasets,statefulsets,daemonsets,jobs",
          "--all",
          "-A",
          "--wait=false",
        ]);
        await run(kubectl, [
          ...base,
          "delete",
          "pods",
          "--all",
          "-A",
          "--grace-period=1",
          "--wait=false",
        ]);
        await waitUntil(async () => (await ctr(["tasks", "ls", "-q"])).stdout.trim() === "", {
          what: "the pods to stop",
          timeoutMs: 20_000, // then they are killed: the sweep removes what they leave
          intervalMs: 500,
        }).catch((error: unknown) => this.#log(`${error}`));
      });
    }
    await this.#step("node processes stopped", async () => {
      for (const name of ["kubelet", "kube-proxy"]) await byName(name)?.stop(10_000);
      await Promise.all([
        this.#controllers?.controllerManager.stop(10_000),
        this.#controllers?.scheduler.stop(10_000),
      ]);
      if (alive("containerd")) {
        for (const id of (await ctr(["tasks", "ls", "-q"])).stdout.split("\n").filter((l) => l)) {
          await ctr(["tasks", "kill", "-s", "SIGKILL", id]);
          await ctr(["tasks", "delete", "-f", id]);
        }
      }
      await byName("containerd")?.stop(15_000);
      await byName("kube-apiserver")?.stop(15_000);
      await byName("etcd")?.stop(15_000);
    });
    this.#admin?.close();
  }
}

/** Runs `ctr` against the node's containerd, in the CRI namespace. */
export function ctr(args: string[]): Promise<RunResult> {
  return run("ctr", ["--address", CONTAINERD_SOCKET, "-n", "k8s.io", ...args]);
}

function apiServerArgs(
  pki: {
    controlPlane: {
      ca: TlsPair;
      apiServer: TlsPair;
      serviceAccount: { publicKeyFile: string; signingKeyFile: string };
    };
    apiServerKubeletClient: TlsPair;
  },
  etcdUrl: string,
): string[] {
  const { ca, apiServer, serviceAccount } = pki.controlPlane;
  return [
    `--etcd-servers=${etcdUrl}`,
    // Pods cannot reach 127.0.0.1, and the `kubernetes` Endpoints may not name it.
    `--bind-address=${NODE_IP}`,
    `--advertise-address=${NODE_IP}`,
    `--secure-port=${API_PORT}`,
    `--cert-dir=${join(NODE_DIR, "apiserver-certs")}`,
    `--tls-cert-file=${apiServer.certFile}`,
    `--tls-private-key-file=${apiServer.keyFile}`,
    `--client-ca-file=${ca.certFile}`,
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${serviceAccount.publicKeyFile}`,
    `--service-account-signing-key-file=${serviceAccount.signingKeyFile}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    "--authorization-mode=Node,RBAC",
    "--enable-admission-plugins=NodeRestriction",
    `--kubelet-client-certificate=${pki.apiServerKubeletClient.certFile}`,
    `--kubelet-client-key=${pki.apiServerKubeletClient.keyFile}`,
    "--kubelet-preferred-address-types=InternalIP",
    // Webhooks are called on the pod's address, not through kube-proxy's ClusterIP rules.
    "--enable-aggregator-routing=true",
    "--allow-privileged=true",
    "--profiling=false",
    "--v=1",
  ];
}

async function nodeReady(admin: ApiClient): Promise<boolean> {
  if (!await answers(admin, `/api/v1/nodes/${NODE_NAME}`)) return false;
  const { body } = await admin.json("GET", `/api/v1/nodes/${NODE_NAME}`);
  const node = body as {
    spec?: { taints?: unknown[] };
    status?: { conditions?: { type: string; status: string }[] };
  };
  const ready = node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
  return ready === true && (node.spec?.taints ?? []).length === 0;
}
