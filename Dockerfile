# syntax=docker/dockerfile:1.7
# The LinkBox Ops Console image: Next's standalone server on Node 22 LTS, as a non-root user, with a
# read-only root filesystem (only /tmp is written: the environments file from LINKBOX_CONFIG_JSON and,
# without AUDIT_DATABASE_URL, the SQLite store) and the RDS CA bundle.
#   docker build -t linkbox-ops-console:$(git rev-parse --short HEAD) .
# CI cannot pull a base image here; it runs this image's entry point on the machine's Node instead
# (scripts/standalone-smoke.ts), with the files laid out as below.

ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
# Dependencies first, so a source change reuses this layer; better-sqlite3 builds its native module here.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
ENV NEXT_TELEMETRY_DISABLED=1
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
# The RDS CA bundle is trusted for every TLS connection Node makes (the LinkBox database, the store).
ENV NODE_ENV=production \
    NEXT_TELEMETRY_DISABLED=1 \
    HOSTNAME=0.0.0.0 \
    PORT=3000 \
    TMPDIR=/tmp \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/rds-global-bundle.pem \
    PGSSLROOTCERT=/etc/ssl/certs/rds-global-bundle.pem
# AWS's RDS CA bundle, for verify-full to RDS (the store's AUDIT_DATABASE_URL names it as sslrootcert).
ADD --chmod=0444 https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem /etc/ssl/certs/rds-global-bundle.pem
WORKDIR /app
# Root owns the application; the user that runs it can read it, not change it.
COPY --from=build /src/.next/standalone ./
COPY --from=build /src/.next/static ./.next/static
COPY --chmod=0555 infra/aws/image/docker-entrypoint.sh ./docker-entrypoint.sh
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/api/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/app/docker-entrypoint.sh"]
