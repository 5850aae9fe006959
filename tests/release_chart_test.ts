/**
 * The Helm chart `deploy/chart/`, with a real helm (built from the Go module proxy by
 * tests/controlplane/build_helm.sh; a missing helm fails these tests): up to date with the
 * generator; `helm lint --strict` passes; `helm template` with the defaults renders the objects of
 * deploy/release.yaml and with `certManager=true` those of deploy/release-cert-manager.yaml (only
 * the chart's two Helm labels aside); each value changes what it should and nothing else; and
 * against a real API server (no kubelet, so no operator pod runs) `helm install` creates every
 * object of the release in both modes, `helm upgrade` applies a value, and `helm uninstall`
 * removes the objects it owns, keeping the CRDs.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { MutatingWebhookConfiguration } from "kubernetes-types/admissionregistration/v1.d.ts";
import type { Deployment } from "kubernetes-types/apps/v1.d.ts";
import type { Container } from "kubernetes-types/core/v1.d.ts";
import { parseAllDocuments } from "yaml";
import { chartFiles, HELM_LABELS } from "../scripts/gen_chart.ts";
import { NAMES, RELEASE_VERSION } from "../scripts/gen_release_names.ts";
import { type ControlPlane, startControlPlane } from "./controlplane/harness.ts";
import { fakeCertManagerCrds } from "./demo/fake_cert_manager.ts";

const DEPLOY = new URL("../deploy/", import.meta.url);
const CHART = fileURLToPath(new URL("chart", DEPLOY));
const BUILD_HELM = fileURLToPath(new URL("controlplane/build_helm.sh", import.meta.url));

type AnyObject = {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
} & Record<string, unknown>;

let helmBinary: Promise<string> | undefined;

/** The helm binary: build_helm.sh prints its directory (building it on first use). */
function helmPath(): Promise<string> {
  helmBinary ??= (async () => {
    const out = await new Deno.Command("bash", { args: [BUILD_HELM], stderr: "inherit" }).output();
    assert.equal(out.code, 0, "tests/controlplane/build_helm.sh failed: helm is needed");
    return `${new TextDecoder().decode(out.stdout).trim()}/helm`;
  })();
  return helmBinary;
}

/** Runs helm with its own empty home (no repositories, plugins or cache of the user's). */
async function helm(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const home = await Deno.makeTempDir({ prefix: "helm-home-" });
  try {
    const out = await new Deno.Command(await helmPath(), {
      args,
      env: {
        HELM_CACHE_HOME: `${home}/cache`,
        HELM_CONFIG_HOME: `${home}/config`,
        HELM_DATA_HOME: `${home}/data`,
        ...env,
      },
    }).output();
    const text = new TextDecoder();
    return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

async function helmOk(args: string[], env: Record<string, string> = {}): Promise<string> {
  const result = await helm(args, env);
  assert.equal(result.code, 0, `helm ${args.join(" ")}:\n${result.stderr}${result.stdout}`);
  return result.stdout;
}

function parse(text: string): AnyObject[] {
  return parseAllDocuments(text).map((doc) => doc.toJS() as AnyObject).filter((o) => o !== null);
}

/** The objects in a stable order, without the labels the chart adds. */
function normalized(objects: AnyObject[]): AnyObject[] {
  const key = (o: AnyObject) => `${o.kind}/${o.metadata?.namespace ?? ""}/${o.metadata?.name}`;
  return structuredClone(objects).map((object) => {
    const labels = object.metadata?.labels;
    if (labels !== undefined) {
      for (const label of Object.keys(HELM_LABELS)) delete labels[label];
    }
    return object;
  }).sort((a, b) => key(a).localeCompare(key(b)));
}

/** `helm template` of the chart (CRDs included), normalized. */
async function render(...args: string[]): Promise<AnyObject[]> {
  return normalized(parse(await helmOk(["template", NAMES.app, CHART, "--include-crds", ...args])));
}

async function release(name: string): Promise<AnyObject[]> {
  return normalized(parse(await Deno.readTextFile(new URL(name, DEPLOY))));
}

/** The operator container of the Deployment among `objects`. */
function container(objects: AnyObject[]): Container {
  const deployment = objects.find((o) => o.kind === "Deployment") as Deployment | undefined;
  const found = deployment?.spec?.template.spec?.containers[0];
  assert.ok(found, "no Deployment with a container");
  return found;
}

function podWebhookSelector(objects: AnyObject[]): Record<string, unknown> {
  const pod = objects.find((o) =>
    o.kind === "MutatingWebhookConfiguration" && o.metadata?.name === NAMES.podWebhooks
  ) as MutatingWebhookConfiguration | undefined;
  const hook = pod?.webhooks?.[0];
  assert.ok(hook?.namespaceSelector, "no pod webhook with a namespace selector");
  return hook as unknown as Record<string, unknown>;
}

Deno.test("every file in deploy/chart/ equals what the generator builds", async () => {
  const files = chartFiles();
  for (const [path, expected] of files) {
    const actual = await Deno.readTextFile(new URL(path, DEPLOY)).catch(() => "(missing)");
    assert.equal(
      actual,
      expected,
      `${path} differs; deploy/ is out of date: run \`deno task gen\``,
    );
  }
  for (const dir of ["chart/templates/", "chart/crds/"]) {
    for await (const entry of Deno.readDir(new URL(dir, DEPLOY))) {
      assert.ok(
        files.has(`${dir}${entry.name}`),
        `${dir}${entry.name} is stale: run deno task gen`,
      );
    }
  }
});

Deno.test("helm lint --strict passes in both certificate modes", async () => {
  for (const args of [[], ["--set", "certManager=true"]]) {
    const out = await helmOk(["lint", "--strict", CHART, ...args]);
    assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  }
});

Deno.test("helm template with the default values renders deploy/release.yaml", async () => {
  assert.deepEqual(await render(), await release("release.yaml"));
});

Deno.test("helm template with certManager=true renders deploy/release-cert-manager.yaml", async () => {
  assert.deepEqual(
    await render("--set", "certManager=true"),
    await release("release-cert-manager.yaml"),
  );
});

Deno.test("the chart's labels are Helm's and sit on every object of the release", async () => {
  const raw = parse(await helmOk(["template", NAMES.app, CHART]));
  assert.ok(raw.length > 0);
  for (const object of raw) {
    assert.deepEqual(
      Object.fromEntries(Object.keys(HELM_LABELS).map((k) => [k, object.metadata?.labels?.[k]])),
      {
        "helm.sh/chart": `${NAMES.app}-${RELEASE_VERSION}`,
        "app.kubernetes.io/managed-by": "Helm",
      },
      `${object.kind} ${object.metadata?.name}`,
    );
  }
});

Deno.test("each value of the chart changes what it should and nothing else", async (t) => {
  const defaults = await release("release.yaml");
  /** Renders with `args` and compares with the release changed by `change`. */
  async function check(args: string[], change: (objects: AnyObject[]) => void) {
    const expected = structuredClone(defaults);
    change(expected);
    assert.deepEqual(await render(...args), expected);
  }

  await t.step("image", () =>
    check(
      [
        "--set",
        "image.repository=registry.example.com/hpa",
        "--set",
        "image.tag=1.2.3",
        "--set",
        "image.pullPolicy=Always",
      ],
      (objects) => {
        container(objects).image = "registry.example.com/hpa:1.2.3";
        container(objects).imagePullPolicy = "Always";
      },
    ));

  await t.step("replicas", () =>
    check(["--set", "replicas=3"], (objects) => {
      const deployment = objects.find((o) => o.kind === "Deployment") as Deployment;
      deployment.spec!.replicas = 3;
    }));

  await t.step(
    "resources (merged into the defaults, as Helm merges maps)",
    () =>
      check(
        ["--set", "resources.requests.cpu=250m", "--set", "resources.limits=null"],
        (objects) => {
          container(objects).resources = { requests: { cpu: "250m", memory: "128Mi" } };
        },
      ),
  );

  await t.step("podNamespaceSelector", async () => {
    const file = await Deno.makeTempFile({ suffix: ".yaml" });
    try {
      await Deno.writeTextFile(
        file,
        "podNamespaceSelector:\n  matchLabels: null\n  matchExpressions:\n" +
          "    - {key: team, operator: In, values: [games]}\n",
      );
      await check(["-f", file], (objects) => {
        podWebhookSelector(objects).namespaceSelector = {
          matchExpressions: [{ key: "team", operator: "In", values: ["games"] }],
        };
      });
    } finally {
      await Deno.remove(file);
    }
  });
});

async function kubectlOk(cp: ControlPlane, args: string[], stdin?: string): Promise<string> {
  const result = await cp.kubectl(args, stdin === undefined ? {} : { stdin });
  assert.equal(result.code, 0, `kubectl ${args.join(" ")}:\n${result.stderr}`);
  return result.stdout;
}

Deno.test("helm install and uninstall against a real API server", async (t) => {
  await using cp = await startControlPlane({ crds: false });
  const env = { KUBECONFIG: cp.kubeconfigPath };
  const releaseFile = fileURLToPath(new URL("release.yaml", DEPLOY));
  const expected = await release("release.yaml");

  await t.step("helm install creates every object of deploy/release.yaml", async () => {
    await helmOk(["install", NAMES.app, CHART], env);
    const names = (await kubectlOk(cp, ["get", "-f", releaseFile, "-o", "name"])).trim().split(
      "\n",
    );
    assert.equal(names.length, expected.length);
    const deployment = JSON.parse(
      await kubectlOk(cp, ["-n", NAMES.namespace, "get", "deployment", NAMES.app, "-o", "json"]),
    ) as Deployment;
    assert.equal(deployment.metadata?.labels?.["app.kubernetes.io/managed-by"], "Helm");
    assert.equal(deployment.spec?.replicas, 2);
  });

  await t.step("helm upgrade applies a changed value", async () => {
    await helmOk(["upgrade", NAMES.app, CHART, "--set", "replicas=3"], env);
    const replicas = await kubectlOk(cp, [
      "-n",
      NAMES.namespace,
      "get",
      "deployment",
      NAMES.app,
      "-o",
      "jsonpath={.spec.replicas}",
    ]);
    assert.equal(replicas, "3");
  });

  await t.step("helm uninstall removes the chart's objects and keeps the CRDs", async () => {
    await helmOk(["uninstall", NAMES.app], env);
    const result = await cp.kubectl(["get", "-f", releaseFile, "-o", "name", "--ignore-not-found"]);
    const left = result.stdout.trim().split("\n").filter((line) => line !== "");
    // No namespace controller runs here, so the Namespace stays Terminating.
    assert.deepEqual(left.filter((n) => !n.startsWith("customresourcedefinition")), [
      `namespace/${NAMES.namespace}`,
    ]);
    assert.equal(left.filter((n) => n.startsWith("customresourcedefinition")).length, 4);
    const phase = await kubectlOk(cp, [
      "get",
      "namespace",
      NAMES.namespace,
      "-o",
      "jsonpath={.status.phase}",
    ]);
    assert.equal(phase, "Terminating");
  });
});

Deno.test("helm install with certManager=true creates deploy/release-cert-manager.yaml's objects", async () => {
  await using cp = await startControlPlane({ crds: false });
  // Stand-ins for cert-manager's CRDs: the API server validates the Issuer and Certificate.
  await kubectlOk(cp, ["apply", "-f", "-"], fakeCertManagerCrds());
  await kubectlOk(cp, ["wait", "--for=condition=Established", "crd", "--all"]);
  const env = { KUBECONFIG: cp.kubeconfigPath };
  await helmOk(["install", NAMES.app, CHART, "--set", "certManager=true"], env);
  const file = fileURLToPath(new URL("release-cert-manager.yaml", DEPLOY));
  const names = (await kubectlOk(cp, ["get", "-f", file, "-o", "name"])).trim().split("\n");
  assert.equal(names.length, (await release("release-cert-manager.yaml")).length);
  assert.ok(names.includes("certificate.cert-manager.io/hostport-allocator"), names.join(" "));
  await helmOk(["uninstall", NAMES.app], env);
});
