# syntax=docker/dockerfile:1
# One image for both roles of sluice: `docker run <image> driver --job ...` or `... executor --job ...`.
# Stage 1 compiles the TypeScript packages and copies their assets (Lua scripts, proto files, web UI);
# stage 2 holds only production dependencies, the compiled packages and the example jobs, and runs as
# an unprivileged user. test/integration/image.test.ts replays stage 2 into a temporary folder
# without Docker (npm ci --omit=dev, these COPY steps) and starts `sluice` from there.
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
# Manifests first, so the dependency layer is rebuilt only when they change.
COPY package.json package-lock.json ./
COPY packages/common/package.json packages/common/
COPY packages/driver/package.json packages/driver/
COPY packages/executor/package.json packages/executor/
COPY packages/cli/package.json packages/cli/
COPY examples/audit/package.json examples/audit/
COPY examples/word-count/package.json examples/word-count/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.base.json LICENSE ./
COPY proto proto
COPY examples/load/job.js examples/load/
COPY deploy/copy-assets.js deploy/
COPY deploy/build-info.js deploy/
COPY packages packages
# The revision sluice_build_info reports (`docker build --build-arg SLUICE_REVISION=$(git rev-parse HEAD)`).
ARG SLUICE_REVISION=""
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/common/package.json packages/common/
COPY packages/driver/package.json packages/driver/
COPY packages/executor/package.json packages/executor/
COPY packages/cli/package.json packages/cli/
COPY examples/audit/package.json examples/audit/
COPY examples/word-count/package.json examples/word-count/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
# Compiled code with what deploy/copy-assets.js put beside it: Lua scripts and proto files (common), web UI
# with uPlot (driver), the load job (cli).
COPY --from=build /src/packages/common/dist packages/common/dist
COPY --from=build /src/packages/driver/dist packages/driver/dist
COPY --from=build /src/packages/executor/dist packages/executor/dist
COPY --from=build /src/packages/cli/dist packages/cli/dist
COPY examples examples
RUN ln -s /app/packages/cli/dist/main.js /usr/local/bin/sluice
# Job modules mounted from a ConfigMap (any path) require('@sluice/common') through NODE_PATH; job
# packages installed into /app/node_modules by a derived image load by name (--job <package>).
ENV NODE_PATH=/app/node_modules
# The node user of the base image, numeric so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 7070 4040
ENTRYPOINT ["sluice"]
CMD ["--help"]
