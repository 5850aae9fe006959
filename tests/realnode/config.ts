/**
 * The fixed settings of the real-node tier: one node per machine, so its addresses, ports, bridge
 * and directories are constants (the lock in `keeper.ts` makes sure only one node runs).
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** Directory holding everything of the node: state, PKI, logs, etcd, containerd, kubelet. */
export const NODE_DIR = "/tmp/k8s-node";
/** Runtime directory of containerd (socket, state) and runc. */
export const RUN_DIR = "/run/k8s-node";
/** The lock file: held by the keeper for the whole life of the node. */
export const LOCK_FILE = "/tmp/k8s-node.lock";
/** Files recording the host as it was before the node, for the teardown (also after a crash). */
export const STATE_DIR = `${NODE_DIR}/state`;
/** Where the node's processes log. */
export const LOG_DIR = `${NODE_DIR}/logs`;

/** The node's name. */
export const NODE_NAME = "node-1";
/** Our bridge; the pods' veths join it (the CNI bridge plugin adopts it). */
export const BRIDGE = "k8sbr0";
/** The bridge's address: the node's InternalIP and the API server's address. */
export const NODE_IP = "10.244.0.1";
/** The pods' network. */
export const POD_CIDR = "10.244.0.0/24";
/** The Services' network. */
export const SERVICE_CIDR = "10.96.0.0/24";
/** ClusterIP of `default/kubernetes`, what in-cluster clients dial. */
export const API_SERVICE_IP = "10.96.0.1";
/** The API server's port on {@linkcode NODE_IP}. */
export const API_PORT = 6443;
/** The API server's URL. */
export const API_URL = `https://${NODE_IP}:${API_PORT}`;
/** Our iptables chain, first in FORWARD: nothing from the pods leaves by another interface. */
export const GUARD_CHAIN = "K8S-NODE-GUARD";
/** containerd's socket; it also marks its shims' command lines. */
export const CONTAINERD_SOCKET = `${RUN_DIR}/containerd/containerd.sock`;
/** The CNI plugins of Debian's containernetworking-plugins. */
export const CNI_BIN_DIR = "/usr/lib/cni";
/** The sandbox image, built by `images.ts`. */
export const PAUSE_IMAGE = "localhost/pause:3.10";
/** The tag of `deploy/examples/pod-echo.yaml`'s image, served by our local stand-in. */
export const AGNHOST_IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.53";

/** Debian packages the node needs, with a binary each proves installed. */
export const PACKAGES: Readonly<Record<string, string>> = {
  containerd: "/usr/bin/containerd",
  runc: "/usr/sbin/runc",
  "containernetworking-plugins": `${CNI_BIN_DIR}/portmap`,
  iptables: "/usr/sbin/iptables",
  conntrack: "/usr/sbin/conntrack",
  nftables: "/usr/sbin/nft",
};

/**
 * Paths outside {@linkcode NODE_DIR} that containerd, the kubelet or the CNI plugins create at
 * fixed places; the teardown removes those that did not exist before.
 */
export const HOST_PATHS = [
  "/var/lib/cni",
  "/run/netns",
  "/var/log/containers",
  "/var/log/pods",
  "/etc/cni",
  "/var/lib/kubelet",
  "/run/containerd",
  RUN_DIR,
] as const;

/** The repository's root. */
export const REPO_DIR = fileURLToPath(new URL("../../", import.meta.url));
