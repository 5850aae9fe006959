import assert from "node:assert/strict";
import { createLogger, formatLogLine, type LogRecord } from "./logger.ts";

const TIME = new Date("2026-05-01T12:00:00.123Z");

Deno.test("formatLogLine() renders records as JSON and text", async (t) => {
  class NotFoundError extends Error {
    override name = "NotFoundError";
  }
  const circular: Record<string, unknown> = { a: 1 };
  circular.self = circular;
  const cases: { name: string; record: Omit<LogRecord, "time">; json: string; text: string }[] = [
    {
      name: "message only",
      record: { level: "info", msg: "starting", fields: {} },
      json: '{"time":"2026-05-01T12:00:00.123Z","level":"info","msg":"starting"}',
      text: "2026-05-01T12:00:00.123Z INFO  starting",
    },
    {
      name: "fields follow the message, undefined ones are left out",
      record: {
        level: "warn",
        msg: "slow",
        fields: { controller: "hostport", ms: 12, skip: undefined },
      },
      json:
        '{"time":"2026-05-01T12:00:00.123Z","level":"warn","msg":"slow","controller":"hostport","ms":12}',
      text: "2026-05-01T12:00:00.123Z WARN  slow controller=hostport ms=12",
    },
    {
      name: "errors become their name and message",
      record: {
        level: "error",
        msg: "failed",
        fields: { error: new NotFoundError("no such lease") },
      },
      json:
        '{"time":"2026-05-01T12:00:00.123Z","level":"error","msg":"failed","error":"NotFoundError: no such lease"}',
      text: '2026-05-01T12:00:00.123Z ERROR failed error="NotFoundError: no such lease"',
    },
    {
      name: "reserved keys are renamed, not overwritten",
      record: { level: "debug", msg: "m", fields: { msg: "x", level: "y" } },
      json:
        '{"time":"2026-05-01T12:00:00.123Z","level":"debug","msg":"m","field.msg":"x","field.level":"y"}',
      text: "2026-05-01T12:00:00.123Z DEBUG m field.msg=x field.level=y",
    },
    {
      name: "objects, bigints and cycles",
      record: { level: "info", msg: "m", fields: { obj: circular, big: 10n, list: [1, "a b"] } },
      json:
        '{"time":"2026-05-01T12:00:00.123Z","level":"info","msg":"m","obj":{"a":1,"self":"[Circular]"},"big":"10","list":[1,"a b"]}',
      text:
        '2026-05-01T12:00:00.123Z INFO  m obj="{\\"a\\":1,\\"self\\":\\"[Circular]\\"}" big=10 list="[1,\\"a b\\"]"',
    },
    {
      name: "text quotes values with spaces, quotes or equals signs",
      record: { level: "info", msg: "m", fields: { a: "two words", b: 'x"y', c: "k=v", d: "" } },
      json:
        '{"time":"2026-05-01T12:00:00.123Z","level":"info","msg":"m","a":"two words","b":"x\\"y","c":"k=v","d":""}',
      text: '2026-05-01T12:00:00.123Z INFO  m a="two words" b="x\\"y" c="k=v" d=""',
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const record = { ...c.record, time: TIME };
      assert.equal(formatLogLine(record, "json"), c.json);
      assert.equal(formatLogLine(record, "text"), c.text);
    });
  }
});

Deno.test("createLogger() filters by level and child() adds fields", () => {
  const lines: string[] = [];
  const logger = createLogger({
    level: "info",
    write: (line) => lines.push(line),
  });
  logger.debug("hidden");
  logger.info("shown", { n: 1 });
  const child = logger.child({ controller: "claim" });
  child.warn("child", { key: "ns/a" });
  child.child({ worker: 2 }).error("grandchild");
  const records = lines.map((line) => JSON.parse(line));
  for (const { time } of records) assert.ok(Date.now() - Date.parse(time) < 60_000, time);
  assert.deepEqual(records.map(({ time: _, ...rest }) => rest), [
    { level: "info", msg: "shown", n: 1 },
    { level: "warn", msg: "child", controller: "claim", key: "ns/a" },
    { level: "error", msg: "grandchild", controller: "claim", worker: 2 },
  ]);
});

Deno.test("createLogger() never throws when the sink fails", () => {
  const logger = createLogger({
    write: () => {
      throw new Error("closed");
    },
  });
  logger.error("still fine");
});
