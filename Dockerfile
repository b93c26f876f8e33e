# The test container: Node 20 on Debian bookworm with OpenSC, GnuTLS, SoftHSM2 and libp11 0.4.13,
# installed by the same script .ci/run runs on a bare machine.
FROM node:20-bookworm
WORKDIR /app
COPY scripts/install-system-deps.sh scripts/
RUN bash scripts/install-system-deps.sh && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
CMD ["npm", "test"]
