# syntax=docker/dockerfile:1
# tickdeck gateway image (also carries the tickdeck-sim CLI). Build: docker build -t tickdeck .
# Run:   docker run --ulimit nofile=65536:65536 -p 3000:3000 tickdeck   (the defaults of `npm start`)
# Cluster: docker-compose.yml at the repository root.
ARG NODE_VERSION=20

# 1. Build everything (TypeScript packages + dashboard) with the dev dependencies.
FROM node:${NODE_VERSION}-bookworm-slim AS build
# better-sqlite3's native addon: a prebuilt binary when one downloads, else compiled here.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY protocol/package.json protocol/
COPY simulator/package.json simulator/
COPY backend/package.json backend/
COPY frontend/package.json frontend/
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# 2. Production dependencies only (no Vite, no test tools; the compiler stays in this stage).
FROM node:${NODE_VERSION}-bookworm-slim AS deps
# better-sqlite3's native addon: a prebuilt binary when one downloads, else compiled here.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY protocol/package.json protocol/
COPY simulator/package.json simulator/
COPY backend/package.json backend/
COPY frontend/package.json frontend/
# No install scripts but the one native addon the gateway needs (the SQLite history store).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm rebuild better-sqlite3 && npm cache clean --force

# 3. Runtime: compiled output + production node_modules, run as the unprivileged `node` user.
FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY --from=deps /app/package.json ./
COPY --from=build /app/protocol/package.json protocol/
COPY --from=build /app/protocol/dist protocol/dist
COPY --from=build /app/simulator/package.json simulator/
COPY --from=build /app/simulator/bin simulator/bin
COPY --from=build /app/simulator/dist simulator/dist
COPY --from=build /app/backend/package.json backend/
COPY --from=build /app/backend/dist backend/dist
COPY --from=build /app/frontend/package.json frontend/
COPY --from=build /app/frontend/dist frontend/dist
# The SQLite history (DATA_DIR=./data, the default): writable by `node`; mount a volume to keep it.
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]
USER node
EXPOSE 3000
# Plain HTTP on PORT: with TLS_CERT/TLS_KEY set, override this check (https + the CA).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 3000}/api/health`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node raises its soft open-files limit to the hard one by itself at start, so no `ulimit -n` here:
# the container's hard limit (`--ulimit nofile=...`, compose's `ulimits`) is what the gateway gets,
# and it caps HTTP connections 256 below it.
CMD ["node", "backend/dist/main.js"]
