#!/usr/bin/env bash
# openCryptoki's soft token for the integration tests (test/integration/opencryptoki.test.ts): a second
# PKCS#11 implementation next to SoftHSM2, and one that really locks a PIN after three wrong tries.
#
#   setup-opencryptoki.sh           installs `opencryptoki` if missing, makes sure its config has a slot
#                                   for the soft token (libpkcs11_sw.so) and that the pkcs11 group exists.
#                                   Idempotent; starts nothing (scripts/install-system-deps.sh calls it).
#   setup-opencryptoki.sh --start   also starts the slot daemon pkcsslotd unless it is running. The test
#                                   file does this in its beforeAll, so the daemon is started where it is
#                                   used: a daemon started in an install step does not outlive a Docker
#                                   RUN layer or a CI step, and /run/lock/opencryptoki, which it needs, is
#                                   emptied by every reboot or new container.
#
# The module is /usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so (multiarch directory of this host);
# its tokens live in one system-wide store (/var/lib/opencryptoki/swtok), initialised with pkcs11-tool
# --init-token and the soft token's default SO PIN 87654321. Needs root.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then exec sudo bash "$0" "$@"; fi
  echo "setup-opencryptoki: run as root (installs a package, edits /etc/opencryptoki)" >&2
  exit 1
fi

start=no
case "${1:-}" in
  --start) start=yes ;;
  '') ;;
  *) echo "usage: $0 [--start]" >&2; exit 2 ;;
esac

export DEBIAN_FRONTEND=noninteractive
if ! dpkg-query -W -f='${Status}' opencryptoki 2>/dev/null | grep -q 'ok installed'; then
  # In a container policy-rc.d keeps the package's postinst from starting the daemon; on a host with
  # systemd it starts pkcsslotd.service, which is fine too.
  apt-get install -y -qq --no-install-recommends opencryptoki >/dev/null 2>&1 || {
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends opencryptoki >/dev/null
  }
fi

getent group pkcs11 >/dev/null || groupadd --system pkcs11

conf=/etc/opencryptoki/opencryptoki.conf
if [ ! -s "$conf" ]; then
  mkdir -p "$(dirname "$conf")"
  printf 'version opencryptoki-3\n' > "$conf"
fi
if ! grep -Eq '^[[:space:]]*stdll[[:space:]]*=[[:space:]]*libpkcs11_sw\.so' "$conf"; then
  # Slot 3 is the soft token's number in the packaged config; take the next free one if it is used.
  slot=3
  while grep -Eq "^[[:space:]]*slot[[:space:]]+${slot}([[:space:]]|\$)" "$conf"; do slot=$((slot + 1)); done
  printf '\nslot %s\n{\nstdll = libpkcs11_sw.so\n}\n' "$slot" >> "$conf"
fi

module=$(ls /usr/lib/*/pkcs11/libopencryptoki.so 2>/dev/null | head -1)
running() { grep -qx pkcsslotd /proc/[0-9]*/comm 2>/dev/null; }

# openCryptoki 3.15 and later start an event thread in C_Initialize unless the config disables events;
# p11-kit (so p11tool) initialises modules with CKF_LIBRARY_CANT_CREATE_OS_THREADS, and 3.23 (Debian 13)
# then refuses with CKR_NEED_TO_CREATE_THREADS, which p11tool reports as "Thread locking error".
# 3.8 (Debian 12) has no event support and would not parse the keyword.
version=$(dpkg-query -W -f='${Version}' opencryptoki)
if dpkg --compare-versions "$version" ge 3.15 && ! grep -Eq '^[[:space:]]*disable-event-support' "$conf"; then
  sed -i '0,/^[[:space:]]*version[[:space:]]/{/^[[:space:]]*version[[:space:]]/a disable-event-support
}' "$conf"
  grep -Eq '^[[:space:]]*disable-event-support' "$conf" || sed -i '1i disable-event-support' "$conf"
  # A daemon started by the package (systemd) still runs with events on.
  if running; then
    if [ -d /run/systemd/system ]; then systemctl restart pkcsslotd.service
    else echo "setup-opencryptoki: restart pkcsslotd to apply disable-event-support" >&2; fi
  fi
fi

if [ "$start" = yes ]; then
  # The lock and state directories the package declares for systemd-tmpfiles: /run is emptied by every
  # reboot and new container, and a container may have no systemd-tmpfiles, so they are made from its lines.
  for tmpfiles in /usr/lib/tmpfiles.d/opencryptoki.conf /etc/tmpfiles.d/opencryptoki.conf; do
    [ -f "$tmpfiles" ] || continue
    while read -r type path mode user group _; do
      [ "$type" = d ] || [ "$type" = D ] || continue
      mkdir -p "$path"
      chown "${user:-root}:${group:-root}" "$path" 2>/dev/null || true
      [ "${mode:--}" = - ] || chmod "$mode" "$path"
    done < "$tmpfiles"
  done
  # The soft token's store and lock directories: group pkcs11, as the package's postinst leaves them on a
  # host (in a chroot or image built without it, sid's are root:root 0755 and the slot shows "(empty)").
  for dir in /var/lib/opencryptoki/swtok /var/lib/opencryptoki/swtok/TOK_OBJ /run/lock/opencryptoki/swtok; do
    mkdir -p "$dir"
    chgrp pkcs11 "$dir"
    chmod 0770 "$dir"
  done
  if ! running; then
    rm -f /run/pkcsslotd.pid
    /usr/sbin/pkcsslotd   # forks into the background itself
    for _ in $(seq 50); do running && break; sleep 0.1; done
    running || { echo "setup-opencryptoki: pkcsslotd did not start; run /usr/sbin/pkcsslotd by hand to see why" >&2; exit 1; }
  fi
fi

slot=$(grep -B3 -E '^[[:space:]]*stdll[[:space:]]*=[[:space:]]*libpkcs11_sw\.so' "$conf" | grep -Eo '^[[:space:]]*slot[[:space:]]+[0-9]+' | grep -Eo '[0-9]+' | tail -1)
echo "setup-opencryptoki: openCryptoki ${version}, module ${module:-not found}, soft token in slot ${slot}$(if [ "$start" = yes ]; then echo ', pkcsslotd running'; fi)"
