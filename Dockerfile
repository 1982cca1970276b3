# interlink: one image for every role (`vk`, `api`, `plugin mock|docker|slurm`, `up`).
#
#   docker build -t interlink:0.1.0 .                      # on node:24-slim (needs BuildKit: Docker >= 23 default,
#                                                          #   or DOCKER_BUILDKIT=1 on older engines)
#   docker build --build-arg BASE_IMAGE=my/node:24 ...     # any Debian-like image with node, npm, useradd
#   docker run --rm interlink:0.1.0 --version
#   docker run --rm interlink:0.1.0 api --config /etc/interlink/api.yaml
#
# Behind a TLS-intercepting proxy, hand its CA bundle to `npm ci` as a build secret (not an
# ARG: it never lands in a layer or in the image history):
#   docker build --secret id=npm_ca,src=/etc/ssl/certs/ca-certificates.crt ...
# The test suite does exactly this (test/deploy/image.docker.test.ts).

ARG BASE_IMAGE=node:24-slim

# ---- build: full dev dependencies, compile, then drop dev dependencies --------------------
FROM ${BASE_IMAGE} AS build
WORKDIR /src
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
# Dependencies first: this layer is reused until the lockfile changes.
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npm_ca \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi; \
    npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# prune leaves the emptied scope directories of dev packages (@biomejs, @vitest): drop them too.
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts \
 && find node_modules -mindepth 1 -maxdepth 1 -type d -empty -delete \
 && node dist/cli/main.js --version

# ---- runtime: dist + production node_modules + package.json, non-root -----------------------
FROM ${BASE_IMAGE} AS runtime
# A fixed numeric uid/gid (not node:24-slim's `node`, uid 1000, which other bases lack) so
# Kubernetes `runAsNonRoot` can verify it without reading /etc/passwd.
RUN groupadd --system --gid 10001 interlink \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home --shell /usr/sbin/nologin interlink \
 && mkdir -p /var/run/interlink /var/lib/interlink \
 && chown 10001:10001 /var/run/interlink /var/lib/interlink
WORKDIR /app
# glibc's malloc gives blocks of 128 KiB and more back when freed (src/cli/heap-limits.ts,
# MALLOC_ENV): what big /status bodies leave behind does not stay resident.
ENV NODE_ENV=production MALLOC_MMAP_THRESHOLD_=131072
COPY --from=build --chown=0:0 /src/package.json ./package.json
COPY --from=build --chown=0:0 /src/node_modules ./node_modules
COPY --from=build --chown=0:0 /src/dist ./dist
USER 10001:10001
# 3000: interLink API; 4000/4001: docker/slurm plugins; 10250: the VK's kubelet API.
EXPOSE 3000 4000 4001 10250
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["--help"]
