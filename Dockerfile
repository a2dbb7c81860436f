# syntax=docker/dockerfile:1
#
# mcp-authz: the authorization sidecar for MCP servers.
#
#   docker build -t mcp-authz:0.1.0 --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
#
# Stages: deps (npm ci + the policy capabilities) → policy (the default bundle, built with the official OPA
# image) and build (TypeScript → dist, dev dependencies pruned) → runtime (node:24 slim, non-root uid 10001,
# read-only root filesystem: nothing is written outside /tmp). Every step is a script in scripts/docker/,
# which test/unit/docker runs, since the build machines have no Docker engine.

# The exact release CI tests the code on (scripts/node-image.mjs): the image runs what was tested.
ARG NODE_VERSION=24.22.3
# The OPA release the project's own compiler (tools/policyc) is verified against.
ARG OPA_VERSION=1.4.2

# ---------------------------------------------------------------------------------------------- deps
FROM node:${NODE_VERSION}-bookworm AS deps
WORKDIR /src
COPY package.json package-lock.json ./
COPY scripts/policy-toolchain.mjs scripts/
COPY scripts/toolchain/ scripts/toolchain/
COPY scripts/docker/ scripts/docker/
RUN --mount=type=cache,target=/root/.npm scripts/docker/build.sh deps

# ---------------------------------------------------------------------------------------------- policy
# The -debug variant of the official image carries a busybox shell for the script; /opa is the binary.
FROM openpolicyagent/opa:${OPA_VERSION}-debug AS policy
USER 0:0
WORKDIR /src
ENV OPA_BIN=/opa
ARG POLICY_REVISION=""
COPY scripts/docker/policy.sh scripts/docker/
COPY policies/ policies/
COPY schema/policy-input.json schema/policy-input.json
COPY --from=deps /src/build/docker/capabilities.json /src/build/docker/capabilities.test.json build/docker/
RUN ["sh", "scripts/docker/policy.sh", "policies", "build/docker/capabilities.json", "/out/bundle.tar.gz", "schema/policy-input.json", "build/docker/capabilities.test.json"]

# ---------------------------------------------------------------------------------------------- build
FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY src/ src/
RUN scripts/docker/build.sh compile prune

# ---------------------------------------------------------------------------------------------- runtime
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ARG NODE_VERSION
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=""
LABEL org.opencontainers.image.title="mcp-authz" \
      org.opencontainers.image.description="Authorization sidecar for MCP servers: JWT/API-key authentication, Rego (WebAssembly) decisions, rate limiting, audit and OpenTelemetry." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="mcp-authz" \
      org.opencontainers.image.base.name="node:${NODE_VERSION}-bookworm-slim"

RUN --mount=type=bind,source=scripts/docker/runtime.sh,target=/tmp/runtime.sh sh /tmp/runtime.sh

# serve and the health check read the same config (and the same AUTHZ_* overrides).
# --max-semi-space-size=32 (MiB; V8's default cap here is 16): every request in flight holds its objects
# across the upstream round trip, and with the default young generation the scavenger copies and promotes
# them so often that garbage collection costs 3-4x as much per request (bench/RESULTS.md). Peak RSS under
# load did not grow. Keep it when you set NODE_OPTIONS yourself; `npm run bench` reads it from this line.
ENV NODE_ENV=production \
    NODE_OPTIONS="--max-semi-space-size=32" \
    HOME=/tmp \
    AUTHZ_CONFIG=/etc/mcp-authz/config.yaml
WORKDIR /app
# Owned by root and read-only for the runtime user.
COPY --from=build --chown=0:0 /src/package.json ./package.json
COPY --from=build --chown=0:0 /src/node_modules ./node_modules
COPY --from=build --chown=0:0 /src/dist/src ./dist/src
COPY --from=policy --chown=0:0 --chmod=0444 /out/bundle.tar.gz ./policy/bundle.tar.gz

USER 10001:10001
# 8080: the MCP endpoint (the pod's public port); 9090: admin (/healthz, /readyz, /metrics).
EXPOSE 8080 9090
# The admin port from the config (admin.port, AUTHZ_ADMIN_PORT), not a fixed 9090.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s \
  CMD ["node", "/app/dist/src/main.js", "health"]
ENTRYPOINT ["node", "/app/dist/src/main.js"]
CMD ["serve"]
