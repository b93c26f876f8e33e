#!/usr/bin/env bash
# Installs the system tools hsm-openssl-ca drives: OpenSC (pkcs11-tool), GnuTLS (p11tool, certtool),
# OpenSSL, SoftHSM2, and libp11 (the OpenSSL `pkcs11` engine) from bookworm-backports, because
# libp11 0.4.12 in bookworm main segfaults on every key-load failure (a wrong PIN included).
# Used by the Dockerfile and by .ci/run alike; needs root and apt.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then exec sudo bash "$0" "$@"; fi
  echo "install-system-deps: run as root (apt-get installs system packages)" >&2
  exit 1
fi

. /etc/os-release
codename="${VERSION_CODENAME:-bookworm}"
export DEBIAN_FRONTEND=noninteractive

backports="/etc/apt/sources.list.d/${codename}-backports.sources"
if ! grep -rqs "${codename}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  cat > "$backports" <<SOURCES
Types: deb
URIs: http://deb.debian.org/debian
Suites: ${codename}-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
fi

apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  ca-certificates openssl opensc gnutls-bin softhsm2 >/dev/null
apt-get install -y -qq --no-install-recommends -t "${codename}-backports" \
  libengine-pkcs11-openssl >/dev/null

echo "install-system-deps: $(openssl version | cut -d' ' -f1-2), libp11 $(dpkg-query -W -f='${Version}' libengine-pkcs11-openssl), OpenSC $(dpkg-query -W -f='${Version}' opensc), SoftHSM2 $(dpkg-query -W -f='${Version}' softhsm2), GnuTLS $(dpkg-query -W -f='${Version}' gnutls-bin)"
