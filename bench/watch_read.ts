/**
 * CPU spent reading a watch of 20,000 pod events through `KubeRestClient` and
 * `ResourceClient.watch` from a local server (in the same process): median of 5 rounds after a
 * warm-up. `deno run --allow-net bench/watch_read.ts`
 *
 * @module
 */
import process from "node:process";
import { KubeRestClient } from "../lib/kube/rest_client.ts";
import { POD_RESOURCE, ResourceClient } from "../lib/kube/resource.ts";
const N = 20_000;
const pod = (i: number) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    name: `p${i}`,
    namespace: "ns",
    resourceVersion: String(i),
    labels: { app: "web", tier: "x" },
    annotations: { "hostport.rmb938.com/claim": "c" },
  },
  spec: {
    containers: [{ name: "c", image: "nginx", ports: [{ containerPort: 80, hostPort: 9000 }] }],
  },
  status: { phase: "Pending" },
});
const body = new TextEncoder().encode(
  Array.from({ length: N }, (_, i) => JSON.stringify({ type: "ADDED", object: pod(i) }) + "\n")
    .join(""),
);
const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, () => {
  let offset = 0;
  return new Response(
    new ReadableStream<Uint8Array>({
      pull(c) {
        if (offset >= body.length) return c.close();
        c.enqueue(body.slice(offset, offset += 16_384));
      },
    }),
  );
});
const rest = new KubeRestClient({
  server: `http://127.0.0.1:${server.addr.port}`,
  auth: { type: "none" },
});
const pods = new ResourceClient(rest, POD_RESOURCE);
const times: number[] = [];
for (let round = 0; round < 6; round++) {
  const cpu = process.cpuUsage();
  let n = 0;
  for await (const _ of pods.watch()) n++;
  if (n !== N) throw new Error(`got ${n}`);
  const used = process.cpuUsage(cpu);
  times.push((used.user + used.system) / 1000);
}
times.shift();
const [min, , median, , max] = times.sort((a, b) => a - b).map((ms) => ms.toFixed(0));
console.log(
  `${N} events, CPU (server and client in one process): median ${median} ms ` +
    `(min ${min}, max ${max})`,
);
rest.close();
await server.shutdown();
