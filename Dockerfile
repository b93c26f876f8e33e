# The test container: Node 24 (LTS) on Debian bookworm with OpenSC, GnuTLS, SoftHSM2, p11-kit, libp11 0.4.13 and
# pkcs11-provider (both from bookworm-backports) and openCryptoki's soft token, installed by the same
# script .ci/run runs on a bare machine. (The release matrix, scripts/matrix.sh, needs chroot and mount:
# it runs on a host, not in here.)
FROM node:24-bookworm
WORKDIR /app
COPY scripts/install-system-deps.sh scripts/setup-opencryptoki.sh scripts/
RUN bash scripts/install-system-deps.sh && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
CMD ["npm", "test"]
