# syntax=docker/dockerfile:1
# Doorstep: a Matrix homeserver focused on knocking.
#   docker build -t doorstep .
#   docker run -p 8008:8008 -p 8448:8448 -v "$PWD/data:/data" doorstep
# The image reads /data/homeserver.yaml (a Synapse-style config; see config.example.yaml).
# Relative paths in the config resolve against /data (the working directory).

# --- build: compile TypeScript, bundle it, build better-sqlite3's native addon --------------
FROM node:20-bookworm AS build
WORKDIR /app
# python3, make and g++ build better-sqlite3 from source when no prebuilt binary matches.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --include=dev
COPY tsconfig.json tsconfig.build.json ./
COPY schema ./schema
COPY scripts ./scripts
COPY src ./src
# The build also starts the bundled server once on 127.0.0.1 to write its V8 code cache
# (dist/server.js.v8cache): the runtime image's /app is read-only to the "node" user.
RUN npm run build \
 && npm prune --omit=dev

# --- runtime: the bundled server and production dependencies (better-sqlite3 is used) ------
# The same Node as the build stage (node:20): V8 rejects a code cache from another version.
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
# doorstep.js (the entry point), server.js (the bundle) and server.js.v8cache (its code cache).
COPY --from=build /app/dist/doorstep.js /app/dist/server.js* ./dist/
COPY config.example.yaml ./config.example.yaml
# The node image ships an unprivileged "node" user (uid 1000); /data is its volume.
RUN mkdir -p /data && chown node:node /data
USER node
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8008 8448
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s \
  CMD node -e "fetch('http://127.0.0.1:8008/_matrix/client/versions').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "/app/dist/doorstep.js"]
CMD ["--config", "/data/homeserver.yaml"]
