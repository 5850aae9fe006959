/**
 * The README quickstart as kubectl commands: label a namespace, create the HostPortClass
 * `sample`, the HostPortClaim `echo-web` and the Pod `echo` (deploy/examples/), and read back
 * what a user should see. The demo prints it; the release tests check it.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { NAMESPACE_LABEL_KEY, NAMESPACE_LABEL_VALUE } from "../../lib/api/constants.ts";
import type { KubectlResult } from "../controlplane/harness.ts";

/** Runs kubectl with these arguments (as the admin of the control plane). */
export type Kubectl = (args: readonly string[]) => Promise<KubectlResult>;

/** The quickstart's namespace, as in the original README. */
export const QUICKSTART_NAMESPACE = "default";

const EXAMPLES = new URL("../../deploy/examples/", import.meta.url);

/** Paths of the quickstart manifests, relative to the repository root and absolute. */
export const QUICKSTART_FILES = [
  example("hostportclass-sample"),
  example("hostportclaim-echo-web"),
  example("pod-echo"),
] as const;

/** The namespace label that turns the pod webhook on, as `kubectl label` takes it. */
export const NAMESPACE_LABEL = `${NAMESPACE_LABEL_KEY}=${NAMESPACE_LABEL_VALUE}`;

function example(name: string): { shown: string; path: string } {
  return {
    shown: `deploy/examples/${name}.yaml`,
    path: fileURLToPath(new URL(`${name}.yaml`, EXAMPLES)),
  };
}

/** Quotes `arg` for a POSIX shell when it holds anything but plain characters. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** A command of the quickstart and what it printed. */
export interface QuickstartStep {
  /** The command as a user would type it. */
  command: string;
  /** Its standard output (and error, when it failed). */
  output: string;
}

/** What the quickstart ends with. */
export interface QuickstartResult {
  /** Every command and its output, in order. */
  steps: QuickstartStep[];
  /** `status.phase` and `status.port` of the claim. */
  claim: { phase: string; port: string; hostPortName: string };
  /** The pod's `hostPort` of port `web` and its `port.hostport.rmb938.com/web` annotation. */
  pod: { hostPort: string; annotation: string };
  /** `kubectl get hostportclasses,hostportclaims,hostports`. */
  listing: string;
}

/** Thrown when a quickstart command fails. */
export class QuickstartError extends Error {
  override name = "QuickstartError";
}

async function step(
  kubectl: Kubectl,
  steps: QuickstartStep[],
  args: readonly string[],
  shown: readonly string[] = args,
): Promise<string> {
  const result = await kubectl(args);
  const command = `kubectl ${shown.map(shellQuote).join(" ")}`;
  steps.push({
    command,
    output: result.code === 0 ? result.stdout : result.stdout + result.stderr,
  });
  if (result.code !== 0) {
    throw new QuickstartError(`"${command}" failed (exit ${result.code}): ${result.stderr.trim()}`);
  }
  return result.stdout;
}

/**
 * Plays the quickstart against a running operator and returns what it shows.
 *
 * @throws {QuickstartError} when a command fails
 */
export async function runQuickstart(kubectl: Kubectl): Promise<QuickstartResult> {
  const steps: QuickstartStep[] = [];
  const ns = ["-n", QUICKSTART_NAMESPACE];
  await step(kubectl, steps, ["label", "namespace", QUICKSTART_NAMESPACE, NAMESPACE_LABEL]);
  const [classFile, claimFile, podFile] = QUICKSTART_FILES;
  await step(kubectl, steps, ["apply", "-f", classFile.path], ["apply", "-f", classFile.shown]);
  await step(kubectl, steps, ["apply", "-f", claimFile.path], ["apply", "-f", claimFile.shown]);
  await step(kubectl, steps, [
    "wait",
    ...ns,
    "--for=jsonpath={.status.phase}=Bound",
    "hostportclaim/echo-web",
    "--timeout=90s",
  ]);
  await step(kubectl, steps, ["apply", "-f", podFile.path], ["apply", "-f", podFile.shown]);
  const claim = await step(kubectl, steps, [
    "get",
    ...ns,
    "hostportclaim",
    "echo-web",
    "-o",
    "jsonpath={.status.phase} {.status.port} {.spec.hostPortName}",
  ]);
  const pod = await step(kubectl, steps, [
    "get",
    ...ns,
    "pod",
    "echo",
    "-o",
    "jsonpath={.spec.containers[0].ports[0].hostPort} {.metadata.annotations.port\\.hostport\\.rmb938\\.com/web}",
  ]);
  const listing = await step(kubectl, steps, [
    "get",
    ...ns,
    "hostportclasses,hostportclaims,hostports",
  ]);
  const [phase = "", port = "", hostPortName = ""] = claim.trim().split(" ");
  const [hostPort = "", annotation = ""] = pod.trim().split(" ");
  return { steps, claim: { phase, port, hostPortName }, pod: { hostPort, annotation }, listing };
}

/** Paths of the per-pod example: the template, then the StatefulSet. */
export const PER_POD_FILES = [
  example("hostportclaimtemplate-game"),
  example("statefulset-game"),
] as const;

/** What the per-pod example ends with. */
export interface PerPodResult {
  /** Every command and its output, in order. */
  steps: QuickstartStep[];
  /** Each pod's name, claim and hostPort, from `kubectl get pods`. */
  pods: { name: string; claim: string; hostPort: string }[];
}

/**
 * Plays the per-pod example after the quickstart (class `sample` exists, the namespace is
 * labelled): the template and a StatefulSet of 3, whose pods the StatefulSet controller creates
 * (the control plane must run kube-controller-manager), each with a claim and a port of its own.
 *
 * @throws {QuickstartError} when a command fails
 */
export async function runPerPodExample(kubectl: Kubectl): Promise<PerPodResult> {
  const steps: QuickstartStep[] = [];
  const ns = ["-n", QUICKSTART_NAMESPACE];
  for (const file of PER_POD_FILES) {
    await step(kubectl, steps, ["apply", "-f", file.path], ["apply", "-f", file.shown]);
  }
  await step(kubectl, steps, [
    "wait",
    ...ns,
    "--for=jsonpath={.status.replicas}=3", // pods created (none turns Ready without a kubelet)
    "statefulset/game",
    "--timeout=90s",
  ]);
  const table = await step(kubectl, steps, [
    "get",
    ...ns,
    "pods",
    "-l",
    "app=game",
    "-o",
    "custom-columns=NAME:.metadata.name,CLAIM:.metadata.annotations.claim\\.hostport\\.rmb938\\.com/web,HOSTPORT:.spec.containers[0].ports[0].hostPort",
  ]);
  await step(kubectl, steps, [
    "get",
    ...ns,
    "hostportclaims",
    "-l",
    "hostport.rmb938.com/claim-template=game-port",
    "-o",
    "wide",
  ]);
  const pods = table.trim().split("\n").slice(1).map((line) => {
    const [name = "", claim = "", hostPort = ""] = line.trim().split(/\s+/);
    return { name, claim, hostPort };
  });
  return { steps, pods };
}
