# syntax=docker/dockerfile:1
#
# Wharf as a container image: a build stage compiles the server and the web console (web/ is an
# npm workspace of the root package: one lockfile, one npm ci), a dependencies stage installs
# production packages only, and the final stage holds the runtime alone (node, production
# node_modules, dist, bin), running as the non-root user `node`.
#
#   docker build -t wharf .
#   docker run -d --name wharf -p 5000:5000 -v wharf-data:/data --stop-timeout 40 wharf
#
# See docs/operations.md for configuration, TLS, health checks and shutdown.

ARG NODE_IMAGE=node:20-slim

# ---------------------------------------------------------------------------------- build
FROM ${NODE_IMAGE} AS build
# better-sqlite3 compiles from source when no prebuilt binary matches the platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
COPY web/package.json ./web/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
# Only the server's sources: tests and benchmarks stay out of the image.
RUN echo '{ "extends": "./tsconfig.json", "include": ["src/**/*.ts"] }' > tsconfig.build.json \
 && npx tsc -p tsconfig.build.json
COPY web ./web
RUN npm run build -w web

# ---------------------------------------------------------------------------------- production dependencies
FROM ${NODE_IMAGE} AS deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# web/package.json only names the workspace: the console's packages are all devDependencies
# (bundled into web/dist at build time), so nothing of it is installed here.
COPY package.json package-lock.json ./
COPY web/package.json ./web/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---------------------------------------------------------------------------------- runtime
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
# Inside a container the loopback default would serve no one; which host addresses reach it is
# decided by `docker run -p` (Wharf warns at start when this meets auth.mode none).
ENV WHARF_HTTP_ADDRESS=0.0.0.0
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/web/dist ./web/dist
COPY package.json ./
COPY bin ./bin
# Owner-only: the database holds password hashes and the token signing key.
RUN mkdir -p /data && chown node:node /data && chmod 700 /data
USER node
EXPOSE 5000
VOLUME /data
# Wharf drains on SIGTERM for http.shutdownGraceMs (30 s by default): give `docker stop` longer
# than that (--stop-timeout 40, or stop_grace_period in compose).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.WHARF_HTTP_PORT || 5000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/app/bin/wharf"]
CMD ["serve", "--data", "/data"]
