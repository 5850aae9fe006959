/**
 * FileCertificateSource over a real directory: first load, swaps on change, bad pairs ignored
 * and counted, health, and the file-system watch.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FileCertificateSource, type ServingPair } from "../webhook/tls_source.ts";
import { issueServing, ObservedFileSource, testPki } from "./webhook_fixtures.ts";

const pki = await testPki();
const next = await issueServing(pki.ca);

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "webhook-certs-" });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function write(dir: string, certPem: string, keyPem: string): Promise<void> {
  await Deno.writeTextFile(join(dir, "tls.crt"), certPem);
  await Deno.writeTextFile(join(dir, "tls.key"), keyPem);
}

Deno.test("FileCertificateSource loads tls.crt and tls.key and swaps them when they change", async () => {
  await withDir(async (dir) => {
    await write(dir, pki.serving.certPem, pki.serving.keyPem);
    const stop = new AbortController();
    const source = new ObservedFileSource({ dir, intervalMs: 10 });
    const seen: ServingPair[] = [];
    source.subscribe((pair) => seen.push(pair));
    await source.start(stop.signal);
    assert.equal(source.current()?.certPem, pki.serving.certPem);
    assert.equal(source.healthy(), true);

    let reloads = 0;
    await source.reloadedUntil(() => ++reloads === 3);
    assert.equal(seen.length, 1); // unchanged bytes: no swap
    await write(dir, next.certPem, next.keyPem);
    await source.reloadedUntil(() => source.current()?.certPem === next.certPem);
    assert.deepEqual(seen.map((pair) => pair.certPem), [pki.serving.certPem, next.certPem]);
    await source.stop(stop);
  });
});

Deno.test("FileCertificateSource keeps the old pair on a bad new pair and turns unhealthy", async () => {
  await withDir(async (dir) => {
    await write(dir, pki.serving.certPem, pki.serving.keyPem);
    const errors: { message: string; healthy: boolean }[] = [];
    const stop = new AbortController();
    const source: ObservedFileSource = new ObservedFileSource({
      dir,
      intervalMs: 10,
      onError: (message) => errors.push({ message, healthy: source.healthy() }),
    });
    await source.start(stop.signal);

    await write(dir, next.certPem, pki.serving.keyPem); // the key of another certificate
    await source.reloadedUntil(() => errors.length >= 12);
    // Healthy through 11 failures in a row, unhealthy from the 12th, the old pair still served.
    assert.deepEqual(errors.slice(0, 12).map((error) => error.healthy), [
      ...Array(11).fill(true),
      false,
    ]);
    assert.match(
      errors[0]!.message,
      /^Cannot reload the serving certificate from .+ \(failure 1\): /,
    );
    assert.match(
      errors[11]!.message,
      /\(failure 12\): the private key does not match the certificate$/,
    );
    assert.equal(source.healthy(), false);
    assert.equal(source.current()?.certPem, pki.serving.certPem);
    await Deno.remove(join(dir, "tls.key"));
    const failed = errors.length;
    await source.reloadedUntil(() => errors.length > failed);
    assert.match(errors.at(-1)!.message, /\): cannot read the files: /);
    assert.equal(source.current()?.certPem, pki.serving.certPem);

    await write(dir, next.certPem, next.keyPem); // fixed
    await source.reloadedUntil(() => source.healthy());
    assert.equal(source.current()?.certPem, next.certPem);
    await source.stop(stop);
  });
});

Deno.test("FileCertificateSource.start() waits for the files and gives up after 12 failures", async () => {
  await withDir(async (dir) => {
    const source = new FileCertificateSource({ dir, intervalMs: 10 });
    await assert.rejects(
      source.start(new AbortController().signal),
      /^Error: Cannot load the serving certificate from .+: cannot read the files/,
    );
    assert.equal(source.current(), undefined);
    assert.equal(source.healthy(), false);
  });
  await withDir(async (dir) => {
    const stop = new AbortController();
    const firstFailure = Promise.withResolvers<void>();
    const source = new ObservedFileSource({
      dir,
      intervalMs: 1_000, // 12 s: a write slowed by a loaded machine still lands in time
      onError: () => firstFailure.resolve(),
    });
    const started = source.start(stop.signal);
    await firstFailure.promise; // the Secret is mounted late
    await write(dir, pki.serving.certPem, pki.serving.keyPem);
    await started;
    assert.equal(source.current()?.certPem, pki.serving.certPem);
    await source.stop(stop);
  });
});

Deno.test("FileCertificateSource picks up a change through the file-system watch", async () => {
  await withDir(async (dir) => {
    await write(dir, pki.serving.certPem, pki.serving.keyPem);
    const stop = new AbortController();
    const source = new ObservedFileSource({ dir, intervalMs: 600_000 }); // polling never fires
    await source.start(stop.signal);
    const swapped = new Promise<ServingPair>((resolve) => source.subscribe(resolve));
    await write(dir, next.certPem, next.keyPem);
    assert.equal((await swapped).certPem, next.certPem);
    await source.stop(stop);
  });
});
