/**
 * The Helm chart `deploy/chart/`: each template is a release piece (`gen_release_files.ts`)
 * rendered as it is, with the chart's values put in and two Helm labels added; the CRDs go to
 * `crds/`, which Helm installs first and never upgrades or deletes. Pure: `gen_manifests.ts`
 * writes it.
 *
 * @module
 */
import type { Deployment } from "kubernetes-types/apps/v1.d.ts";
import type { MutatingWebhookConfiguration } from "kubernetes-types/admissionregistration/v1.d.ts";
import { stringify } from "yaml";
import { buildCrds } from "../lib/api/crd.ts";
import { IMAGE_REPOSITORY, NAMES, RELEASE_VERSION } from "./gen_release_names.ts";
import { toYaml } from "./gen_crds.ts";
import { generatedHeader, type ReleasePart, releaseParts } from "./gen_release_files.ts";
import type { TlsVariant } from "./gen_release_rbac.ts";
import { PULL_POLICY, REPLICAS, RESOURCES } from "./gen_release_workload.ts";
import { podNamespaceSelector } from "../webhook/configurations.ts";

/** Labels the chart adds to every object's metadata (on top of the release's labels). */
export const HELM_LABELS = {
  "helm.sh/chart": "{{ .Chart.Name }}-{{ .Chart.Version }}",
  "app.kubernetes.io/managed-by": "{{ .Release.Service }}",
} as const;

/** Where the chart's files go, relative to `deploy/`. */
const CHART_DIR = "chart/";

/** Template expressions by placeholder: `INLINE` ones replace a scalar, `BLOCK` ones a YAML value. */
const INLINE = {
  replicas: "{{ .Values.replicas }}",
  image: '"{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"',
  pullPolicy: "{{ .Values.image.pullPolicy }}",
  chartLabel: `"${HELM_LABELS["helm.sh/chart"]}"`,
  managedBy: HELM_LABELS["app.kubernetes.io/managed-by"],
} as const;
const BLOCK = {
  resources: ".Values.resources",
  podNamespaceSelector: ".Values.podNamespaceSelector",
} as const;

function placeholder(name: keyof typeof INLINE | keyof typeof BLOCK): string {
  return `HELM__${name}__`;
}

type Labelled = { kind?: string; metadata?: { labels?: Record<string, string> } };

/** A copy of a release object with the chart's placeholders in it. */
function withPlaceholders(object: Labelled): Labelled {
  const copy = structuredClone(object);
  if (copy.metadata?.labels !== undefined) {
    copy.metadata.labels["helm.sh/chart"] = placeholder("chartLabel");
    copy.metadata.labels["app.kubernetes.io/managed-by"] = placeholder("managedBy");
  }
  if (copy.kind === "Deployment") {
    const spec = (copy as Deployment).spec!;
    Object.assign(spec, { replicas: placeholder("replicas") });
    for (const container of spec.template.spec!.containers) {
      container.image = placeholder("image");
      container.imagePullPolicy = placeholder("pullPolicy");
      Object.assign(container, { resources: placeholder("resources") });
    }
  }
  if (copy.kind === "MutatingWebhookConfiguration") {
    for (const hook of (copy as MutatingWebhookConfiguration).webhooks ?? []) {
      if (hook.namespaceSelector !== undefined) {
        Object.assign(hook, { namespaceSelector: placeholder("podNamespaceSelector") });
      }
    }
  }
  return copy;
}

/** Replaces the placeholders of rendered YAML with template expressions. */
function substitute(yaml: string): string {
  return yaml.replace(
    /^( *)([\w.-]+): HELM__(\w+)__$/gm,
    (line, indent: string, key: string, name: string) => {
      const value = BLOCK[name as keyof typeof BLOCK];
      if (value === undefined) return line;
      const depth = indent.length + 2;
      return `${indent}${key}:\n${" ".repeat(depth)}{{- toYaml ${value} | nindent ${depth} }}`;
    },
  ).replace(/HELM__(\w+)__/g, (_, name: string) => {
    const value = INLINE[name as keyof typeof INLINE];
    if (value === undefined) throw new Error(`unknown chart placeholder ${name}`);
    return value;
  });
}

function header(about: string): string {
  return generatedHeader(about, "gen_chart.ts");
}

/**
 * The lines of `a` and `b` as one template: lines in both as they are, runs of lines in only one
 * under `{{- if .Values.certManager }}` (`b`) / `{{- else }}` (`a`). A longest common subsequence
 * of lines, so a template shows exactly where the variants differ.
 */
function merge(a: string[], b: string[]): string[] {
  // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j]
        ? lcs[i + 1]![j + 1]! + 1
        : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: string[] = [];
  let onlyA: string[] = [];
  let onlyB: string[] = [];
  const flush = () => {
    if (onlyB.length > 0) out.push("{{- if .Values.certManager }}", ...onlyB);
    if (onlyA.length > 0) {
      out.push(onlyB.length > 0 ? "{{- else }}" : "{{- if not .Values.certManager }}", ...onlyA);
    }
    if (onlyA.length > 0 || onlyB.length > 0) out.push("{{- end }}");
    onlyA = [];
    onlyB = [];
  };
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      flush();
      out.push(a[i]!);
      i++;
      j++;
    } else if (j >= b.length || (i < a.length && lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      onlyA.push(a[i++]!);
    } else {
      onlyB.push(b[j++]!);
    }
  }
  flush();
  return out;
}

function templateText(part: ReleasePart): string {
  const lines = (variant: TlsVariant) => {
    const objects = (part.both ?? part[variant])?.objects;
    const documents = objects?.map((object) => `---\n${toYaml(withPlaceholders(object))}`);
    return documents ? substitute(documents.join("")).replace(/\n$/, "").split("\n") : [];
  };
  return `${merge(lines("self-managed"), lines("cert-manager")).join("\n")}\n`;
}

function chartYaml(): string {
  return header("The hostport-allocator chart") + toYaml({
    apiVersion: "v2",
    name: NAMES.app,
    description: "Hands out host ports: HostPortClass pools, HostPortClaims, and a pod webhook " +
      "that gives pods naming a claim its port as hostPort",
    type: "application",
    version: RELEASE_VERSION,
    appVersion: RELEASE_VERSION,
    // The pod webhook's matchConditions.
    kubeVersion: ">=1.30.0-0",
  });
}

function valuesYaml(): string {
  const entry = (comment: string, value: Record<string, unknown>) =>
    `\n${comment.split("\n").map((line) => `# ${line}`).join("\n")}\n${stringify(value)}`;
  return header("Values of the hostport-allocator chart; the defaults render deploy/release.yaml") +
    entry("The operator image; the tag defaults to the chart's appVersion.", {
      image: { repository: IMAGE_REPOSITORY, tag: "", pullPolicy: PULL_POLICY },
    }) +
    entry(
      "Operator replicas: the leader runs the controllers, every replica serves the webhooks.",
      { replicas: REPLICAS },
    ) +
    entry(
      "false: the operator keeps its own CA and serving certificate (Secret " +
        `${NAMES.tlsSecret}) and\ninjects the CA into the webhooks. true: cert-manager issues ` +
        "the certificate and its cainjector\ninjects the CA (cert-manager must be installed).",
      { certManager: false },
    ) +
    entry(
      "Namespaces whose pods the pod webhook sees. Keep the operator's own namespace out of it,\n" +
        "so the operator can always restart.",
      { podNamespaceSelector: podNamespaceSelector(NAMES.namespace) },
    ) +
    entry("Resources of the operator container.", { resources: RESOURCES });
}

/** Every file of the chart: path relative to `deploy/` -> text. */
export function chartFiles(): Map<string, string> {
  const files = new Map<string, string>();
  files.set(`${CHART_DIR}Chart.yaml`, chartYaml());
  files.set(`${CHART_DIR}values.yaml`, valuesYaml());
  for (const part of releaseParts()) {
    files.set(`${CHART_DIR}templates/${part.file}`, header(part.about) + templateText(part));
  }
  for (const crd of buildCrds()) {
    const { kind, plural } = crd.spec.names;
    const about = `The ${kind} CRD (Helm installs crds/ first and never deletes it)`;
    files.set(`${CHART_DIR}crds/${plural}.yaml`, header(about) + toYaml(crd));
  }
  return files;
}
