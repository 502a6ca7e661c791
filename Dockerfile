# fleetjobs in a container: `docker build -t fleetjobs .`, then
#   docker run -p 8080:8080 -p 8081:8081 -p 1883:1883 -p 8883:8883 -p 8443:8443 \
#     -v fleetjobs-data:/data -v "$PWD/credentials:/run/secrets/credentials:ro" \
#     -e FLEETJOBS_CREDENTIALS_FILE=/run/secrets/credentials fleetjobs
# It listens on 0.0.0.0, so HTTP requests must be SigV4-signed with a key of the credentials file and
# devices authenticate (docs/deployment.md). The SQLite database, the device secret and the local CA live
# in the /data volume. test/cli/package.test.ts runs this image's entry point with its ENV lines.

# ---- build: compiles the server and the console, then keeps only the runtime dependencies ----
FROM node:20-bookworm-slim AS build
# better-sqlite3 is compiled when no prebuilt binary can be downloaded.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund && npm rebuild better-sqlite3
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: node, the built files and the production dependencies; runs as the unprivileged `node` user ----
FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/models ./models
COPY LICENSE ./
RUN mkdir /data && chown node:node /data
ENV NODE_ENV=production
ENV FLEETJOBS_DATA_DIR=/data
ENV FLEETJOBS_HOST=0.0.0.0
USER node
VOLUME ["/data"]
# control plane (and the console, /metrics, MQTT over WebSocket), data plane, MQTT, MQTT over TLS, data plane over HTTPS
EXPOSE 8080 8081 1883 8883 8443
HEALTHCHECK --interval=30s --timeout=3s CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["serve"]
