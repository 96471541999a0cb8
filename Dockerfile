# One image for the API and the worker (the command chooses the role: --api or --worker).
# Debian-based: the Temporal SDK's native core ships for glibc, not Alpine's musl.
# Built here only statically (no Docker engine on our machines); docker-compose.yml builds it.

# ---- build: compile TypeScript with the dev dependencies ----
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# npm install with the committed lock, not npm ci: the lock names only the linux-x64 builds of
# packages with per-platform binaries, so npm ci calls it out of sync (same as .ci/run).
RUN npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
# The sandbox's fake X is compiled into the app (src/sandbox imports it).
COPY test/fakes ./test/fakes
RUN npx tsc -p tsconfig.build.json
# The dashboard: static assets built by Vite into web/dist (it reuses src/domain's splitter).
COPY web ./web
RUN npx vite build web

# ---- runtime: production dependencies and compiled code only ----
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY spec ./spec
COPY --from=build /app/web/dist ./web/dist
USER node
# 3000: API (/api/v2, /health, /metrics). 9464: worker health (/healthz, /readyz, /metrics).
EXPOSE 3000 9464
CMD ["node", "dist/src/main.js", "--api"]
