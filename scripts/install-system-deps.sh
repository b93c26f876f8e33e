#!/usr/bin/env bash
# Installs the system tools hsm-openssl-ca drives: OpenSC (pkcs11-tool), GnuTLS (p11tool, certtool),
# OpenSSL, SoftHSM2, p11-kit (p11-kit-proxy.so), libpcsclite1 (OpenSC loads it for every reader), libp11
# (the OpenSSL `pkcs11` engine), pkcs11-provider (the OpenSSL 3 provider), and for the tests bsdutils
# (`script`, a pseudo-terminal; sid no longer installs it by default) and openCryptoki.
#
#   Debian 12 (bookworm)   libp11 0.4.13 and pkcs11-provider 1.0 from bookworm-backports: libp11 0.4.12 in
#                          bookworm main segfaults on every key-load failure (a wrong PIN included), and
#                          pkcs11-provider is not in bookworm main at all.
#   Debian 13 (trixie)     everything from main (libp11 0.4.13, pkcs11-provider 1.0).
#   Debian testing / sid   everything from main (no backports exist for them).
#   Ubuntu and other apt-based systems: everything from main, untested.
#
# HSM_CA_NO_ENGINE=1 leaves libengine-pkcs11-openssl out (and removes it when it is installed), which is
# what a system looks like whose OpenSSL has no engines (OpenSSL 4, RHEL 10): only the provider remains.
# Used by the Dockerfile, .ci/run and scripts/matrix.sh alike; needs root and apt.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then exec sudo --preserve-env=HSM_CA_NO_ENGINE bash "$0" "$@"; fi
  echo "install-system-deps: run as root (apt-get installs system packages)" >&2
  exit 1
fi

. /etc/os-release
id_="${ID:-debian}"
codename="${VERSION_CODENAME:-}"
export DEBIAN_FRONTEND=noninteractive

# The URI of this machine's own Debian archive, as its apt sources name it (deb822 or one-line format).
debian_archive_uri() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    awk -v cn="$codename" '
      BEGIN { RS=""; FS="\n" }
      {
        uris=""; suites=""; enabled=1
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { uris = $i; sub(/^URIs:[ \t]*/, "", uris) }
          if ($i ~ /^Suites:/) { suites = " " $i " "; sub(/^ Suites:/, "", suites) }
          if ($i ~ /^Enabled:[ \t]*no/) enabled = 0
        }
        if (enabled && suites ~ ("[ \t]" cn "[ \t]")) { split(uris, u, /[ \t]+/); print u[1]; exit }
      }' "$f"
  done
  [ -e /etc/apt/sources.list ] && awk -v cn="$codename" '
    $1 == "deb" { n = 2; if ($2 ~ /^\[/) { while ($n !~ /\]$/) n++; n++ } if ($(n + 1) == cn) { print $n } }' /etc/apt/sources.list
  return 0
}

engine=1
case "${HSM_CA_NO_ENGINE:-}" in 1 | yes | true) engine=0 ;; esac

# Only Debian 12 needs bookworm-backports; every later release has libp11 >= 0.4.13 and pkcs11-provider
# in main, and testing/sid have no backports.
backports=""
if [ "$id_" = debian ] && [ "${VERSION_ID:-}" = 12 ]; then
  backports="${codename:-bookworm}-backports"
  if ! grep -rqs -- "$backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    uri=$(debian_archive_uri | head -1)
    if [ -z "$uri" ]; then
      echo "install-system-deps: found no apt source for '$codename' to add $backports beside; add $backports to the apt sources and run again" >&2
      exit 1
    fi
    cat > "/etc/apt/sources.list.d/${backports}.sources" <<SOURCES
Types: deb
URIs: ${uri}
Suites: ${backports}
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  fi
fi

apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  ca-certificates openssl opensc libpcsclite1 gnutls-bin softhsm2 p11-kit p11-kit-modules bsdutils >/dev/null
# Go's crypto/x509 is a third, independent verifier of the chains (and name constraints) the tests sign.
apt-get install -y -qq --no-install-recommends golang-go >/dev/null
# The README's deployment examples run in a test: nginx serves the files, HAProxy and kubectl load them.
# policy-rc.d keeps the daemons from starting (and taking port 80) at install; the test starts its own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq --no-install-recommends nginx haproxy >/dev/null
# Debian 12 has kubectl as kubernetes-client; later releases dropped it, and the README test (host only) says so.
command -v kubectl >/dev/null || apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null 2>&1 ||
  echo "install-system-deps: no kubectl in this release (kubernetes-client); the README test needs it on the host" >&2

p11pkgs=(pkcs11-provider)
[ "$engine" = 1 ] && p11pkgs+=(libengine-pkcs11-openssl)
if [ -n "$backports" ]; then
  apt-get install -y -qq --no-install-recommends -t "$backports" "${p11pkgs[@]}" >/dev/null
else
  apt-get install -y -qq --no-install-recommends "${p11pkgs[@]}" >/dev/null
fi
if [ "$engine" = 0 ] && dpkg-query -W -f='${Status}' libengine-pkcs11-openssl 2>/dev/null | grep -q ' installed'; then
  apt-get purge -y -qq libengine-pkcs11-openssl >/dev/null
fi

# openCryptoki's soft token: a second PKCS#11 implementation, which counts and locks PINs (for the tests).
bash "$(dirname "$0")/setup-opencryptoki.sh"

version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo none; }
echo "install-system-deps: $(openssl version | cut -d' ' -f1-2), libp11 $(version libengine-pkcs11-openssl), pkcs11-provider $(version pkcs11-provider), OpenSC $(version opensc), SoftHSM2 $(version softhsm2), GnuTLS $(version gnutls-bin), p11-kit $(version p11-kit), Go $(version golang-go), nginx $(version nginx), HAProxy $(version haproxy)"
