# One image for the API and the worker (the command chooses the role: --api or --worker).
# Debian-based: the Temporal SDK's native core ships for glibc, not Alpine's musl.
# Built here only statically (no Docker engine on our machines); docker-compose.yml builds it.

# ---- build: compile TypeScript with the dev dependencies ----
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Exactly the committed lock file: npm ci refuses a lock that disagrees with package.json.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
# src/sandbox (loaded only with HERALD_SANDBOX) imports the platform fakes: they are compiled here so
# the build type-checks, and left out of the runtime image below.
COPY test/fakes ./test/fakes
RUN npx tsc -p tsconfig.build.json
# The dashboard: static assets built by Vite into web/dist (it reuses src/domain's splitter).
COPY web ./web
RUN npx vite build web

# ---- runtime: production dependencies and compiled code only ----
FROM node:20-bookworm-slim
# MALLOC_ARENA_MAX=2: glibc gives each thread of the Temporal core (Rust) a malloc arena of its own
# otherwise, up to 8 per core; with 2 a worker holding 10,000 waiting posts keeps ~40 MB in malloc
# instead of ~115 MB (docs/BENCHMARK.md). Read by glibc at process start, so it is set here.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    MALLOC_ARENA_MAX=2
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
# Compiled code only: no tests, no fakes (so no sandbox mode: src/main.ts says so if asked for one).
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/workflows ./dist/workflows
COPY --from=build /app/dist/activities ./dist/activities
RUN rm -rf dist/src/sandbox dist/src/oauth/sandbox.js dist/src/oauth/sandbox.js.map
COPY spec ./spec
COPY --from=build /app/web/dist ./web/dist
USER node
# 3000: API (/api/v2, /health, /metrics). 9464: worker health (/healthz, /readyz, /metrics).
EXPOSE 3000 9464
CMD ["node", "dist/src/main.js", "--api"]
