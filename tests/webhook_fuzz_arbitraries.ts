/**
 * Arbitraries for tests/webhook_fuzz_test.ts: AdmissionReviews for every webhook path, pods
 * (random and mostly admissible ones), worlds of claims, HostPorts and classes, and mutations
 * (huge strings, wrong types, deep nesting, deleted fields).
 */
import fc from "fast-check";
import type { HostPort, HostPortClaim, HostPortClass } from "../lib/api/mod.ts";
import { WEBHOOK_PATHS } from "../webhook/configurations.ts";

export const PATHS = Object.values(WEBHOOK_PATHS);
const HUGE = "x".repeat(1_000_000);
const GROUP = "hostport.rmb938.com";
export const KINDS = {
  pod: { group: "", version: "v1", kind: "Pod" },
  HostPort: { group: GROUP, version: "v1alpha1", kind: "HostPort" },
  HostPortClaim: { group: GROUP, version: "v1alpha1", kind: "HostPortClaim" },
  HostPortClass: { group: GROUP, version: "v1alpha1", kind: "HostPortClass" },
};
const PATH_KIND: Record<string, keyof typeof KINDS> = {
  [WEBHOOK_PATHS.mutatePod]: "pod",
  [WEBHOOK_PATHS.mutateHostPort]: "HostPort",
  [WEBHOOK_PATHS.validateHostPort]: "HostPort",
  [WEBHOOK_PATHS.mutateHostPortClaim]: "HostPortClaim",
  [WEBHOOK_PATHS.validateHostPortClaim]: "HostPortClaim",
  [WEBHOOK_PATHS.mutateHostPortClass]: "HostPortClass",
  [WEBHOOK_PATHS.validateHostPortClass]: "HostPortClass",
};

function deeplyNested(depth: number): unknown {
  let value: unknown = "bottom";
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? { n: value } : [value];
  return value;
}
const DEEP = deeplyNested(5_000);

export interface World {
  claims: HostPortClaim[];
  hostPorts: HostPort[];
  classes: HostPortClass[];
  failClasses: boolean;
}

export const A = "claim.hostport.rmb938.com/";
const PORT_NAMES = ["web", "admin", "dns", "x", ""];
const CLAIM_NAMES = ["a", "b", "static", "gone", ""];

const portArb = fc.record({
  name: fc.option(fc.constantFrom(...PORT_NAMES), { nil: undefined }),
  containerPort: fc.integer({ min: 1, max: 65535 }),
  hostPort: fc.option(fc.constantFrom(0, 80, 8080, 9000, 70000), { nil: undefined }),
  protocol: fc.constantFrom("TCP", "UDP"),
  futureField: fc.constant({ keep: true }),
}, { requiredKeys: ["containerPort", "protocol", "futureField"] });
const containerArb = fc.record({
  name: fc.constantFrom("c", "d"),
  image: fc.constant("img"),
  ports: fc.array(portArb, { maxLength: 3 }),
}, { requiredKeys: ["name", "image"] });
const annotationsArb = fc.dictionary(
  fc.oneof(
    fc.constantFrom(...PORT_NAMES, "a/b").map((name) => `${A}${name}`),
    fc.constantFrom("port.hostport.rmb938.com/web", "team", "__proto__"),
  ),
  fc.constantFrom(...CLAIM_NAMES, "a", "b", "9000"),
  { maxKeys: 4 },
);
export const podArb = fc.record({
  apiVersion: fc.constant("v1"),
  kind: fc.constant("Pod"),
  metadata: fc.record({
    name: fc.constantFrom("p", ""),
    generateName: fc.constant("p-"),
    namespace: fc.constant("ns1"),
    annotations: annotationsArb,
    deletionTimestamp: fc.constant("2026-01-01T00:00:00Z"),
  }, { requiredKeys: ["namespace"] }),
  spec: fc.record({
    hostNetwork: fc.boolean(),
    containers: fc.array(containerArb, { maxLength: 3 }),
    initContainers: fc.array(containerArb, { maxLength: 2 }),
    futureSpecField: fc.constant([1, 2, 3]),
  }, { requiredKeys: ["containers"] }),
});

/** Pods built to be mostly admissible: each claimed name once, extra ports without hostPort. */
export const plausiblePodArb = fc.record({
  claims: fc.dictionary(
    fc.constantFrom("web", "admin", "dns"),
    fc.constantFrom("a", "b", "static"),
    {
      maxKeys: 3,
    },
  ),
  extra: fc.array(
    fc.record({
      name: fc.option(fc.constantFrom("metrics", "x"), { nil: undefined }),
      containerPort: fc.integer({ min: 1, max: 65535 }),
    }, { requiredKeys: ["containerPort"] }),
    { maxLength: 3 },
  ),
  sidecar: fc.boolean(),
  hostNetwork: fc.boolean(),
  preset: fc.boolean(),
  annotations: fc.boolean(),
}).map((plan) => {
  const claimed = Object.keys(plan.claims).map((name, i) => ({
    name,
    containerPort: 8000 + i,
    ...(plan.preset || plan.hostNetwork ? { hostPort: 8000 + i } : {}),
  }));
  const annotations = Object.fromEntries(
    Object.entries(plan.claims).map(([port, claim]) => [`${A}${port}`, claim]),
  );
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      namespace: "ns1",
      generateName: "p-",
      ...(plan.annotations || claimed.length > 0 ? { annotations } : {}),
    },
    spec: {
      hostNetwork: plan.hostNetwork,
      containers: [{ name: "c", ports: [...claimed.slice(plan.sidecar ? 1 : 0), ...plan.extra] }],
      initContainers: plan.sidecar
        ? [{ name: "s", restartPolicy: "Always", ports: claimed.slice(0, 1) }]
        : [],
      futureSpecField: { x: 1 },
    },
  };
});

const metaArb = (name: string) =>
  fc.record({
    name: fc.constant(name),
    namespace: fc.constant("ns1"),
    uid: fc.constantFrom(`uid-${name}`, "other"),
    finalizers: fc.subarray(["hostport.rmb938.com", "x.example.com/y"]),
    deletionTimestamp: fc.constant("2026-01-01T00:00:00Z"),
  }, { requiredKeys: ["name", "namespace", "uid"] });
const claimArb = (name: string) =>
  fc.record({
    apiVersion: fc.constant(`${GROUP}/v1alpha1`),
    kind: fc.constant("HostPortClaim" as const),
    metadata: metaArb(name),
    spec: fc.record({
      hostPortClassName: fc.constantFrom("c1", "c2"),
      hostPortName: fc.constantFrom("", `hp-${name}`, "hp-static", "hp-missing"),
    }, { requiredKeys: ["hostPortClassName"] }),
  });
const hostPortArb = (name: string) =>
  fc.record({
    apiVersion: fc.constant(`${GROUP}/v1alpha1`),
    kind: fc.constant("HostPort" as const),
    metadata: metaArb(name).map((m) => ({ ...m, namespace: undefined })).map((
      { namespace: _, ...m },
    ) => m),
    spec: fc.record({
      hostPortClassName: fc.constantFrom("c1", "c2"),
      claimRef: fc.record({
        namespace: fc.constantFrom("ns1", "ns2"),
        name: fc.constantFrom("a", "b", "static"),
        uid: fc.constantFrom("uid-a", "uid-b", ""),
      }),
    }, { requiredKeys: ["hostPortClassName"] }),
    status: fc.record({
      phase: fc.constantFrom("Pending" as const, "Allocated" as const, "Deleting" as const),
      port: fc.integer({ min: 0, max: 65535 }),
    }),
  });
const poolsArb = fc.array(
  fc.record({
    start: fc.integer({ min: -5, max: 70000 }),
    end: fc.integer({ min: -5, max: 70000 }),
  }),
  { maxLength: 4 },
);
const classArb = (name: string) =>
  fc.record({
    apiVersion: fc.constant(`${GROUP}/v1alpha1`),
    kind: fc.constant("HostPortClass" as const),
    metadata: metaArb(name).map(({ namespace: _, ...m }) => m),
    spec: fc.record({ pools: poolsArb }),
  });

const randomWorldArb: fc.Arbitrary<World> = fc.record({
  claims: fc.tuple(claimArb("a"), claimArb("b"), claimArb("static")),
  hostPorts: fc.tuple(hostPortArb("hp-a"), hostPortArb("hp-b"), hostPortArb("hp-static")),
  classes: fc.tuple(classArb("c1"), classArb("c2")),
  failClasses: fc.boolean(),
}).map((w) => ({
  claims: w.claims as unknown as HostPortClaim[],
  hostPorts: w.hostPorts as unknown as HostPort[],
  classes: w.classes as unknown as HostPortClass[],
  failClasses: w.failClasses,
}));

/** A world where claims a, b and static are usable (ports 9000, 9001, 9002). */
function goodWorld(): World {
  const meta = (name: string) => ({
    name,
    namespace: "ns1",
    uid: `uid-${name}`,
    finalizers: ["hostport.rmb938.com"],
  });
  const claims = ["a", "b", "static"].map((name) => ({
    apiVersion: `${GROUP}/v1alpha1` as const,
    kind: "HostPortClaim" as const,
    metadata: meta(name),
    spec: { hostPortClassName: "c1", hostPortName: `hp-${name}` },
  }));
  const hostPorts = ["a", "b", "static"].map((name, i) => ({
    apiVersion: `${GROUP}/v1alpha1` as const,
    kind: "HostPort" as const,
    metadata: { name: `hp-${name}`, finalizers: ["hostport.rmb938.com"] },
    spec: {
      hostPortClassName: "c1",
      ...(name === "static" ? {} : { claimRef: { namespace: "ns1", name, uid: `uid-${name}` } }),
    },
    status: { phase: "Allocated" as const, port: 9000 + i },
  }));
  return { claims, hostPorts, classes: [], failClasses: false };
}

export const worldArb = fc.oneof(randomWorldArb, fc.constant(null).map(goodWorld));

function objectArb(kind: keyof typeof KINDS): fc.Arbitrary<unknown> {
  if (kind === "pod") return podArb;
  if (kind === "HostPort") return hostPortArb("hp-a");
  if (kind === "HostPortClaim") return claimArb("a");
  return classArb("c1");
}

export const reviewArb = fc.constantFrom(...PATHS).chain((path) => {
  const kind = PATH_KIND[path] ?? "pod";
  return fc.record({
    path: fc.constant(path),
    body: fc.record({
      apiVersion: fc.constant("admission.k8s.io/v1"),
      kind: fc.constant("AdmissionReview"),
      request: fc.record({
        uid: fc.uuid(),
        kind: fc.constant(KINDS[kind]),
        resource: fc.constant({
          group: KINDS[kind].group,
          version: KINDS[kind].version,
          resource: "x",
        }),
        namespace: fc.constant("ns1"),
        operation: fc.constantFrom("CREATE", "UPDATE", "UPDATE", "DELETE"),
        object: objectArb(kind),
        oldObject: objectArb(kind),
      }),
    }),
    world: worldArb,
  });
});

/** Every path (as a list of keys) into a JSON value, up to a depth. */
export function pathsOf(
  value: unknown,
  prefix: (string | number)[] = [],
  depth = 0,
): (string | number)[][] {
  const paths: (string | number)[][] = [prefix];
  if (depth > 8 || typeof value !== "object" || value === null) return paths;
  for (const [key, child] of Object.entries(value)) {
    const step = Array.isArray(value) ? Number(key) : key;
    paths.push(...pathsOf(child, [...prefix, step], depth + 1));
  }
  return paths;
}

/** Returns a copy of `value` with the value at `path` replaced (or deleted for `undefined`). */
export function mutateAt(
  value: unknown,
  path: readonly (string | number)[],
  replacement: unknown,
): unknown {
  if (path.length === 0) return replacement;
  const copy = JSON.parse(JSON.stringify(value)) as Record<string | number, unknown>;
  let parent = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path.at(-1) as string | number;
  if (replacement === undefined) delete parent[last];
  else parent[last] = replacement;
  return copy;
}

export const replacementArb = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom("", -1, 1.5, 2 ** 53, null, true, [], {}, "\u0000\ud800\n\u00a0"),
  // Stands for DEEP and HUGE, substituted at use, so fast-check never prints them.
  fc.constantFrom("<deep>", "<huge>"),
);

export function expand(replacement: unknown): unknown {
  if (replacement === "<deep>") return DEEP;
  if (replacement === "<huge>") return HUGE;
  return replacement;
}
