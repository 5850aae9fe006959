# syntax=docker/dockerfile:1
#
# The hostport-allocator image: one executable made by `deno compile`, on a distroless base,
# running as a non-root user.
#
#   docker build -t localhost/hostport-allocator:0.1.0 .
#
# NOT BUILT OR RUN BY THIS REPOSITORY'S TESTS. Our machines have no container runtime, and
# `deno compile` downloads its runtime (denort) from dl.deno.land, which they cannot reach. What
# the tests do run is the same `deno bundle` output this file compiles: from an empty directory
# with an empty DENO_DIR, `--help` and a real start against a kube-apiserver
# (tests/release_bundle_test.ts). Build this image where dl.deno.land and the npm registry are
# reachable.

ARG BUILD_IMAGE=node:22-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
ENV PATH=/src/tools/node_modules/.bin:$PATH DENO_DIR=/deno-dir NO_COLOR=1
# The pinned Deno, from the lockfile the ./deno wrapper uses (same version, same checksum).
COPY tools/package.json tools/package-lock.json tools/
RUN cd tools && npm ci --no-audit --no-fund --loglevel=error
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY mod.ts ./
COPY lib/ lib/
COPY webhook/ webhook/
# Bundle first (what `deno task bundle` does, and what the tests run), then compile the bundle:
# it has no imports left, so the executable carries no node_modules. The permissions are the
# operator's exact needs; the V8 heap limit stays below the Deployment's 512Mi memory limit, and the
# young generation is 2 MB semi-spaces (1 MB measured no lower: bench/results/memory.md).
RUN deno check mod.ts \
 && deno bundle --platform deno -o dist/hostport-allocator.js mod.ts \
 && cd dist \
 && deno compile --no-config \
      --allow-net --allow-read --allow-env --allow-sys=hostname \
      --v8-flags=--max-old-space-size=384,--max-semi-space-size=2 \
      -o /out/hostport-allocator hostport-allocator.js
# The V8 code cache, built here once. The executable writes its code cache on its first start (to
# $TMPDIR/deno-compile-hostport-allocator.cache) and only reads it on later ones; without one, every
# new pod parses and compiles the whole bundle as it starts, and malloc keeps that memory (about
# 30 MB of RSS: bench/results/memory.md). A `--help` run loads the bundle and writes the cache; the
# image reads it from the same path (never rewritten, so the read-only root is fine). A cache V8
# rejects (another Deno) is only slower: the operator compiles as it would without one.
RUN mkdir -p /code-cache \
 && TMPDIR=/code-cache DENO_DIR=/code-cache /out/hostport-allocator --help >/dev/null \
 && find /code-cache -type f | grep -q .

FROM ${RUNTIME_IMAGE}
COPY --from=build /out/hostport-allocator /hostport-allocator
COPY --from=build /code-cache /code-cache
# TMPDIR and DENO_DIR: where the code cache above is read from. GLIBC_TUNABLES: malloc serves
# blocks of 32 KiB and more (V8's compiler zones) with mmap, so they go back to the system when
# freed, and keeps one arena: 4-5 MB less RSS with the code cache, 13-16 MB without, no measurable
# CPU cost (bench/results/memory.md).
ENV TMPDIR=/code-cache DENO_DIR=/code-cache \
    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=32768:glibc.malloc.arena_max=1
USER 65532:65532
EXPOSE 8080 8081 9443
ENTRYPOINT ["/hostport-allocator"]
