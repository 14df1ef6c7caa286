# Doorstep: a Matrix homeserver focused on knocking.
#   docker build -t doorstep .
#   docker run -p 8008:8008 -p 8448:8448 -v "$PWD/data:/data" doorstep
# The image reads /data/homeserver.yaml (a Synapse-style config; see config.example.yaml).
# Relative paths in the config resolve against /data (the working directory).
#
# Targets: `runtime` (the default, last stage) and `complement` (Complement's homeserver image
# contract: `docker build --target complement -t complement-doorstep .`; README "Running Complement
# against Doorstep").
#
# BASE (build stage) and RUNTIME_BASE (the images) default to the official Node 20 images. Any
# Debian-like image with node, npm and a `node` user (uid 1000) works, e.g. the one that
# scripts/docker/make-base.sh makes from debootstrap and this machine's Node (npm run test:docker):
#   docker build --build-arg BASE=doorstep-base:local --build-arg RUNTIME_BASE=doorstep-base:local .
# Both must carry the same Node: V8 rejects a code cache made by another version.
ARG BASE=node:20-bookworm
ARG RUNTIME_BASE=node:20-bookworm-slim

# --- build: compile TypeScript, bundle it, build better-sqlite3's native addon --------------
FROM ${BASE} AS build
WORKDIR /app
# python3, make and g++ build better-sqlite3 from source when no prebuilt binary matches.
RUN if ! command -v python3 >/dev/null || ! command -v make >/dev/null || ! command -v g++ >/dev/null; then \
      apt-get update \
      && apt-get install -y --no-install-recommends python3 make g++ \
      && rm -rf /var/lib/apt/lists/*; \
    fi
COPY package.json package-lock.json ./
RUN npm ci --include=dev --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY schema ./schema
COPY scripts ./scripts
COPY src ./src
# The build also starts the bundled server once on 127.0.0.1 to write its V8 code cache
# (dist/server.js.v8cache): the runtime image's /app is read-only to the "node" user.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# --- app: the bundled server and production dependencies (better-sqlite3 is used) ---------
# No VOLUME here: the complement target keeps its database in the container's filesystem.
FROM ${RUNTIME_BASE} AS app
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
# doorstep.js (the entry point), server.js (the bundle) and server.js.v8cache (its code cache).
COPY --from=build /app/dist/doorstep.js /app/dist/server.js* ./dist/
COPY config.example.yaml ./config.example.yaml
EXPOSE 8008 8448
STOPSIGNAL SIGTERM

# --- complement: Complement's contract (SERVER_NAME; client API on 8008 over HTTP; federation on
# 8448 over HTTPS with a certificate signed by the CA mounted at /complement/ca; shared secret
# "complement"; open registration; raised rate limits; the database in the container's filesystem,
# which Complement commits into images). docker/complement-entrypoint.sh writes the config and the
# certificate at each start. Runs as root: Complement's mounted CA key need not be readable by others.
FROM app AS complement
RUN if ! command -v openssl >/dev/null; then \
      apt-get update \
      && apt-get install -y --no-install-recommends openssl \
      && rm -rf /var/lib/apt/lists/*; \
    fi
COPY docker/complement-entrypoint.sh /usr/local/bin/complement-entrypoint.sh
RUN chmod 0755 /usr/local/bin/complement-entrypoint.sh && mkdir -p /conf /data
ENV SERVER_NAME=localhost
WORKDIR /data
HEALTHCHECK --interval=1s --timeout=2s --start-period=2s --retries=30 \
  CMD node -e "fetch('http://127.0.0.1:8008/_matrix/client/versions').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["/usr/local/bin/complement-entrypoint.sh"]

# --- runtime (default): unprivileged, config and data in the /data volume --------------------
FROM app AS runtime
# The node images ship an unprivileged "node" user (uid 1000); /data is its volume.
RUN mkdir -p /data && chown node:node /data
USER node
WORKDIR /data
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s \
  CMD node -e "fetch('http://127.0.0.1:8008/_matrix/client/versions').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "/app/dist/doorstep.js"]
CMD ["--config", "/data/homeserver.yaml"]
