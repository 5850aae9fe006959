import type { ResourceQuota } from "kubernetes-types/core/v1.d.ts";
import assert from "node:assert/strict";
import type { HostPortClaim } from "../api/mod.ts";
import {
  admitClaim,
  CLAIM_COUNT_RESOURCE,
  classOfQuotaResource,
  classQuotaResource,
  gateClaim,
  parseCount,
  planQuotaUsage,
  quotaExceededMessage,
} from "./mod.ts";

const GOLD = "gold.hostportclass.hostport.rmb938.com/hostportclaims";

function quota(name: string, hard: Record<string, string>, extra: object = {}): ResourceQuota {
  return { metadata: { name, namespace: "t" }, spec: { hard, ...extra } };
}

function claim(name: string, created: string, options: { deleting?: boolean } = {}) {
  const value: HostPortClaim = {
    apiVersion: "hostport.rmb938.com/v1alpha1",
    kind: "HostPortClaim",
    metadata: {
      name,
      namespace: "t",
      uid: `uid-${name}`,
      creationTimestamp: created,
      ...options.deleting ? { deletionTimestamp: created } : {},
    },
    spec: { hostPortClassName: "gold" },
  };
  return value;
}

Deno.test("classQuotaResource() is the StorageClass-style key, and classOfQuotaResource() reads it back", () => {
  assert.equal(classQuotaResource("gold"), GOLD);
  assert.equal(classOfQuotaResource(GOLD), "gold");
  assert.equal(classOfQuotaResource(CLAIM_COUNT_RESOURCE), undefined);
  assert.equal(
    classOfQuotaResource(".hostportclass.hostport.rmb938.com/hostportclaims"),
    undefined,
  );
});

Deno.test("parseCount() reads quantities as whole counts", () => {
  assert.equal(parseCount("10"), 10);
  assert.equal(parseCount("2.5"), 2);
  assert.equal(parseCount("1k"), 1000);
  assert.equal(parseCount("2Ki"), 2048);
  assert.equal(parseCount("1e3"), 1000);
  assert.equal(parseCount("0"), 0);
  assert.equal(parseCount("-1"), undefined);
  assert.equal(parseCount("ten"), undefined);
});

Deno.test("parseCount() reads E as exa and Ei as exbi, and E followed by digits as an exponent", () => {
  assert.equal(parseCount("1E"), 10 ** 18);
  assert.equal(parseCount("1Ei"), 2 ** 60);
  assert.equal(parseCount("2E3"), 2000);
  assert.equal(parseCount("1E-1"), 0);
});

Deno.test("admitClaim() refuses the claim that would exceed the first full quota, with the API server's wording", () => {
  const quotas = [quota("b", { [GOLD]: "3" }), quota("a", { [GOLD]: "5" })];
  assert.equal(admitClaim(quotas, "gold", 2), undefined);
  const exceeded = admitClaim(quotas, "gold", 3);
  assert.deepEqual(exceeded, { quota: "b", resource: GOLD, used: 3, limit: 3 });
  assert.equal(
    quotaExceededMessage(exceeded!),
    `exceeded quota: b, requested: ${GOLD}=1, used: ${GOLD}=3, limited: ${GOLD}=3`,
  );
  assert.equal(admitClaim(quotas, "silver", 100), undefined, "another class is not limited");
});

Deno.test("admitClaim() ignores quotas with scopes, as the API server does for object counts", () => {
  const scoped = quota("s", { [GOLD]: "0" }, { scopes: ["Terminating"] });
  const selected = quota("p", { [GOLD]: "0" }, { scopeSelector: { matchExpressions: [] } });
  assert.equal(admitClaim([scoped, selected], "gold", 5), undefined);
});

Deno.test("gateClaim() lets the oldest waiting claims go first, whichever is reconciled first", () => {
  const quotas = [quota("q", { [GOLD]: "3" })];
  const bound = claim("bound", "2026-01-01T00:00:00Z");
  const silver = claim("silver", "2026-01-01T00:00:00Z"); // another class: never counted here
  silver.spec.hostPortClassName = "silver";
  const a = claim("a", "2026-01-01T00:00:01Z");
  const b = claim("b", "2026-01-01T00:00:02Z");
  const c = claim("c", "2026-01-01T00:00:02Z"); // same second as b: by name
  const counting = (other: HostPortClaim) => other === bound || other === silver;
  const standings = { claims: [c, bound, silver, b, a], counting };
  assert.equal(gateClaim(a, quotas, standings), undefined);
  assert.equal(gateClaim(b, quotas, standings), undefined);
  assert.deepEqual(gateClaim(c, quotas, standings), {
    quota: "q",
    resource: GOLD,
    used: 3,
    limit: 3,
  });
});

Deno.test("gateClaim() never counts deleting claims that wait, and holds every new claim while usage is above a lowered limit", () => {
  const gone = claim("gone", "2026-01-01T00:00:00Z", { deleting: true });
  const late = claim("late", "2026-01-01T00:00:05Z");
  const claims = [0, 1, 2, 3].map((n) => claim(`h${n}`, `2026-01-01T00:00:0${n}Z`));
  const holders = { claims, counting: (other: HostPortClaim) => claims.includes(other) };
  assert.equal(
    gateClaim(late, [quota("q", { [GOLD]: "5" })], { ...holders, claims: [gone, ...claims] }),
    undefined,
  );
  assert.deepEqual(
    gateClaim(late, [quota("q", { [GOLD]: "2" })], holders),
    { quota: "q", resource: GOLD, used: 4, limit: 2 },
  );
  assert.equal(gateClaim(late, [], holders), undefined, "no quota, no gate");
});

Deno.test("planQuotaUsage() writes each class key's count and only a missing claim count", () => {
  const claims = [claim("a", "t1"), claim("b", "t2"), {
    ...claim("s", "t3"),
    spec: { hostPortClassName: "silver" },
  }];
  const fresh: ResourceQuota = {
    ...quota("q", { [GOLD]: "3", [CLAIM_COUNT_RESOURCE]: "10", pods: "4" }),
    status: { hard: { [CLAIM_COUNT_RESOURCE]: "10" }, used: { pods: "0" } },
  };
  assert.deepEqual(planQuotaUsage(fresh, claims, 3), {
    used: { [GOLD]: "2", [CLAIM_COUNT_RESOURCE]: "3" },
    classes: [{ class: "gold", used: 2, hard: 3 }],
  });
  const counted: ResourceQuota = {
    ...fresh,
    status: { hard: fresh.status!.hard!, used: { [GOLD]: "2", [CLAIM_COUNT_RESOURCE]: "1" } },
  };
  assert.deepEqual(planQuotaUsage(counted, claims, 3).used, {}, "the API server owns the count");
});
