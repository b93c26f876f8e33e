#!/usr/bin/env bash
# The release matrix: runs the integration suite against the system tools of several Debian releases.
#
#   host/engine, host/provider        this machine (Debian 12 with bookworm-backports), no chroot
#   trixie/engine, trixie/provider    a Debian 13 root filesystem
#   sid/engine, sid/provider          a Debian sid root filesystem
#   sid-noengine/auto                 sid with libengine-pkcs11-openssl removed (what OpenSSL 4 and RHEL 10
#                                     look like): the CLI's `auto` must pick the provider
#
# Root filesystems are built with mmdebstrap (installed with apt when missing) from the Debian archive
# this machine's apt sources name, with nodejs, and the system tools installed inside by
# scripts/install-system-deps.sh itself. They are cached under $MATRIX_CACHE keyed by release and a hash
# of that script, of setup-opencryptoki.sh and of the package list below, so only the first
# run pays for them (about 2 minutes for both, built at once; 2 to 3.5 minutes measured). Each
# chroot cell runs in an overlay over the cached root filesystem (which stays pristine), with /proc, /sys,
# /dev and a private /tmp mounted, and this checkout bind-mounted read-only: its node_modules and dist/
# must be built on the host first (`npm ci && npm run build`); the dependencies are pure JavaScript.
#
# Usage: bash scripts/matrix.sh [CELL...]        (as root; default: every cell above)
#   bash scripts/matrix.sh build                 only build (or find cached) root filesystems
#   bash scripts/matrix.sh capture               only re-capture tool-output fixtures in every release
# Environment:
#   MATRIX_TESTS      the test files to run (jest path patterns), default: all of test/integration
#   MATRIX_CHROOT_SKIP  a regex of test files the chroot cells leave out (host cells run them all), e.g.
#                     config-injection: its ~200 init runs are a third of a cell's time
#   MATRIX_JOBS       cells run at once (default 2)
#   MATRIX_CACHE      root filesystem cache (default /var/cache/hsm-openssl-ca-matrix)
#   MATRIX_RESULTS    markdown table written here (default: matrix-results.md in the checkout)
#   MATRIX_CELL_TIMEOUT  seconds one cell may take (default 2400)
#   MATRIX_DEADLINE   epoch seconds by which every cell must be done (.ci/run sets it from CI's 90 minutes):
#                     a cell is cut short at the deadline, one not started 3 minutes before it is not run;
#                     both count as failed
# pack.test.ts (needs the npm registry), *opencryptoki*, the kill-point sweep (kill-points*: it proves our
# own commit protocol, which no tool version changes, and takes minutes) and readme.test.ts (nginx, HAProxy
# and kubectl, which later releases do not package alike) are never run in cells.
# Prints a table of cells and ends with one line "N passed, N failed" over all cells; exits 1 if any failed.
set -uo pipefail

checkout=$(cd "$(dirname "$0")/.." && pwd)
cache=${MATRIX_CACHE:-/var/cache/hsm-openssl-ca-matrix}
results_md=${MATRIX_RESULTS:-$checkout/matrix-results.md}
jobs=${MATRIX_JOBS:-2}
cell_timeout=${MATRIX_CELL_TIMEOUT:-2400}
all_cells=(host/engine host/provider trixie/engine trixie/provider sid/engine sid/provider sid-noengine/auto)
# Packages of the root filesystem besides those install-system-deps.sh installs: Node, and what the tests
# use (ps; `script` for a pseudo-terminal, in bsdutils, which sid no longer installs by default).
extra_packages=nodejs,procps,ca-certificates,bsdutils
inside=/srv/hsm-openssl-ca
jest_cache="$cache/jest-cache"

log() { printf '%s matrix: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (chroot, mount, mmdebstrap)"
[ -d "$checkout/node_modules" ] && [ -f "$checkout/dist/cli.js" ] \
  || die "build the checkout first: npm ci && npm run build (in $checkout)"

if [ -n "${MATRIX_TESTS:-}" ]; then
  read -r -a tests <<<"$MATRIX_TESTS"
else
  tests=(test/integration)
fi
ignore='(/pack\.test\.ts$|/readme\.test\.ts$|opencryptoki|kill-points)'
backend_independent='config-injection|hostile-csrs|cli-surface|scale'
chroot_ignore=$ignore
[ -n "${MATRIX_CHROOT_SKIP:-}" ] && chroot_ignore="(/pack\\.test\\.ts\$|/readme\\.test\\.ts\$|opencryptoki|kill-points|${MATRIX_CHROOT_SKIP})"

# --- the Debian archive, as this machine's apt sources name it ------------------------------------------

archive_uri() {
  local f uri=""
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    uri=$(awk 'BEGIN { RS=""; FS="\n" }
      {
        uris=""; suites=""; enabled=1
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { uris = $i; sub(/^URIs:[ \t]*/, "", uris) }
          if ($i ~ /^Suites:/) suites = $i
          if ($i ~ /^Enabled:[ \t]*no/) enabled = 0
        }
        split(uris, u, /[ \t]+/)
        if (enabled && u[1] ~ /\/debian\/?$/ && suites !~ /-security/) { print u[1]; exit }
      }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  [ -e /etc/apt/sources.list ] && awk '$1 == "deb" { n = 2; if ($2 ~ /^\[/) { while ($n !~ /\]$/) n++; n++ }
    if ($n ~ /\/debian\/?$/) { print $n; exit } }' /etc/apt/sources.list
}

# --- root filesystems -----------------------------------------------------------------------------------

rootfs_key() {
  { cat "$checkout/scripts/install-system-deps.sh"
    cat "$checkout/scripts/setup-opencryptoki.sh"
    echo "$extra_packages"; } | sha256sum | cut -c1-12
}

rootfs_dir() { echo "$cache/$1-$(rootfs_key)"; }

build_rootfs() { # release
  local release=$1 dir tmp start uri
  dir=$(rootfs_dir "$release")
  if [ -f "$dir/.complete" ]; then log "$release: cached root filesystem $dir"; return 0; fi
  uri=$(archive_uri)
  [ -n "$uri" ] || { log "$release: found no Debian archive in this machine's apt sources"; return 1; }
  tmp="$dir.partial"
  rm -rf "$tmp"
  mkdir -p "$cache/logs"
  start=$(date +%s)
  log "$release: building root filesystem (mmdebstrap; log in $cache/logs/$release.log)"
  local hooks=(--customize-hook='mkdir -p "$1/root/hsm-ca-install"'
    --customize-hook="copy-in $checkout/scripts/install-system-deps.sh $checkout/scripts/setup-opencryptoki.sh /root/hsm-ca-install"
    --customize-hook='chroot "$1" bash /root/hsm-ca-install/install-system-deps.sh'
    --customize-hook='rm -rf "$1/root/hsm-ca-install" "$1"/var/cache/apt/archives/*.deb')
  # sid's Release file on the archive can be past its Valid-Until; the option stays in the chroot's apt.
  if ! mmdebstrap --mode=root --variant=apt --include="$extra_packages" \
      --aptopt='Acquire::Check-Valid-Until "false"' "${hooks[@]}" \
      "$release" "$tmp" "$uri" >"$cache/logs/$release.log" 2>&1; then
    log "$release: mmdebstrap failed after $(( $(date +%s) - start )) s:"
    tail -n 15 "$cache/logs/$release.log" >&2
    rm -rf "$tmp"
    return 1
  fi
  grep 'install-system-deps:' "$cache/logs/$release.log" | tail -1 >&2
  rm -rf "$cache/$release"-*[!l]   # older keys of this release (not the .partial being renamed)
  mv "$tmp" "$dir" && touch "$dir/.complete"
  log "$release: root filesystem built in $(( $(date +%s) - start )) s"
}

ensure_mmdebstrap() {
  command -v mmdebstrap >/dev/null 2>&1 && return 0
  log "installing mmdebstrap"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
}

build_all() { # releases...
  local r pids=() failed=0
  [ $# -gt 0 ] || return 0
  ensure_mmdebstrap || die "could not install mmdebstrap"
  # In parallel: downloading and unpacking overlap well even on 2 cores.
  for r in "$@"; do build_rootfs "$r" & pids+=($!); done
  for r in "${pids[@]}"; do wait "$r" || failed=1; done
  return $failed
}

# --- chroot cells ---------------------------------------------------------------------------------------

# Mounts an overlay over the release's root filesystem at $1/root with /proc, /sys, /dev, /tmp and the
# checkout (read-only) at $inside.
enter_mounts() { # workdir release
  local work=$1 lower root
  lower=$(rootfs_dir "$2")
  root="$work/root"
  mkdir -p "$work/upper" "$work/ovl" "$root"
  mount -t overlay overlay -o "lowerdir=$lower,upperdir=$work/upper,workdir=$work/ovl" "$root" || return 1
  mount -t proc proc "$root/proc" &&
    mount -t sysfs -o ro sysfs "$root/sys" &&
    mount --rbind /dev "$root/dev" && mount --make-rslave "$root/dev" &&
    mount -t tmpfs -o mode=1777,size=4g tmpfs "$root/tmp" &&
    mkdir -p "$root$inside" &&
    mount --bind "$checkout" "$root$inside" && mount -o remount,bind,ro "$root$inside" &&
    mkdir -p "$jest_cache" "$root/var/cache/hsm-ca-jest" &&
    mount --bind "$jest_cache" "$root/var/cache/hsm-ca-jest"
}

leave_mounts() { # workdir
  local root="$1/root" p
  mountpoint -q "$root" || return 0
  # Whatever a timed-out or crashed cell left running inside this chroot (and only inside it).
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && kill -KILL "${p#/proc/}" 2>/dev/null
  done
  umount -R "$root" 2>/dev/null || umount -R -l "$root"
}

in_root() { # root command... — a clean environment, like a fresh login
  local root=$1; shift
  chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 CI=true "$@"
}

versions() { # "run prefix" — prints OpenSSL|OpenSC|GnuTLS|libp11|pkcs11-provider|Node
  v() { "$@" dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null | cut -d- -f1 | sed 's/~bpo.*//'; }
  local ossl opensc gnutls libp11 prov node
  ossl=$("$@" openssl version 2>/dev/null | awk '{print $2}')
  pkg=opensc; opensc=$(v "$@"); pkg=gnutls-bin; gnutls=$(v "$@")
  pkg=libengine-pkcs11-openssl; libp11=$(v "$@"); pkg=pkcs11-provider; prov=$(v "$@")
  node=$("$@" node --version 2>/dev/null)
  echo "${ossl:-?}|${opensc:-?}|${gnutls:-?}|${libp11:-none}|${prov:-none}|${node:-?}"
}

run_cell() { # cell resultfile
  local cell=$1 out=$2 system=${1%/*} backend=${1#*/} work logf start summary rc=0 vers
  work="$runs/${cell//\//-}"
  logf="$cell_logs/${cell//\//-}.log"
  mkdir -p "$work"
  start=$(date +%s)
  local envs=(JEST_SUMMARY_FILE=/tmp/jest-summary.txt FORCE_COLOR=0)
  [ "$backend" = auto ] || envs+=(HSM_CA_TEST_BACKEND="$backend")
  local limit=$cell_timeout
  [ -n "${MATRIX_DEADLINE:-}" ] && [ $((MATRIX_DEADLINE - start)) -lt "$limit" ] && limit=$((MATRIX_DEADLINE - start))
  # One ts-jest cache for every cell: each compiles the same test files (inside, the checkout's path is
  # always $inside, so cells of later runs find them too).
  local cachedir=/var/cache/hsm-ca-jest skip=$chroot_ignore
  [ "$system" = host ] && { cachedir=$jest_cache; skip=$ignore; }
  # Files whose verdicts do not depend on the backend (OpenSSL's config parser, CSR refusals before the
  # token, the CLI's surface, inventory at scale) run once per OpenSSL version, in its provider cell (and in
  # the host's npm test): about 300 s less in each other cell, which keeps CI inside its 90 minutes.
  [ "$backend" = provider ] || skip="${skip%)}|${backend_independent})"
  local jest=(node --experimental-vm-modules node_modules/jest/bin/jest.js --ci --cacheDirectory "$cachedir"
    --testPathIgnorePatterns "$skip" -- "${tests[@]}")
  if [ "$system" = host ]; then
    vers=$(versions env)
    summary="$work/jest-summary.txt"
    envs[0]="JEST_SUMMARY_FILE=$summary"
    (cd "$checkout" && env "${envs[@]}" CI=true timeout -k 30 "$limit" "${jest[@]}") >"$logf" 2>&1 || rc=$?
  else
    local release=${system%-noengine}
    if ! enter_mounts "$work" "$release" >"$logf" 2>&1; then
      leave_mounts "$work"
      echo "$cell|?|?|?|?|?|?|$backend|0|1|0|mount failed" >"$out"; return
    fi
    if [ "$system" != "$release" ]; then
      in_root "$work/root" apt-get purge -y -qq libengine-pkcs11-openssl >>"$logf" 2>&1
    fi
    vers=$(versions in_root "$work/root")
    summary="$work/root/tmp/jest-summary.txt"
    in_root "$work/root" "${envs[@]}" timeout -k 30 "$limit" bash -c 'cd "$0" && exec "$@"' "$inside" "${jest[@]}" \
      >>"$logf" 2>&1 || rc=$?
  fi
  local passed=0 failed=1 note=""
  if [ -s "$summary" ]; then
    passed=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' "$summary")
    failed=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' "$summary")
    [ "$rc" -ne 0 ] && [ "$failed" = 0 ] && { failed=1; note="jest exited $rc"; }
  else
    note="no jest summary (exit $rc); see $logf"
  fi
  [ "$rc" = 124 ] || [ "$rc" = 137 ] && note="cut short after $limit s (timeout); see $logf"
  [ "$system" = host ] || { cp "$summary" "$work/jest-summary.txt" 2>/dev/null; leave_mounts "$work"; rm -rf "$work/upper" "$work/ovl"; }
  echo "$cell|$vers|$backend|${passed:-0}|${failed:-1}|$(( $(date +%s) - start ))|$note" >"$out"
  log "$cell: ${passed:-0} passed, ${failed:-1} failed in $(( $(date +%s) - start )) s${note:+ ($note)}"
  # What failed, in the output itself: CI keeps only what the run printed, not the cell logs.
  [ "${failed:-1}" = 0 ] || tail -n +2 "$work/jest-summary.txt" 2>/dev/null | head -n 80 | sed "s|^|  $cell: |" >&2
}

# --- fixtures -------------------------------------------------------------------------------------------

capture_all() { # releases... — new fixture files only: an existing file is never overwritten
  local r work tmp
  tmp="$runs/fixtures"
  mkdir -p "$tmp"
  (cd "$checkout" && FIXTURES_DIR="$tmp" bash scripts/capture-tool-output.sh) || return 1
  for r in "$@"; do
    work="$runs/capture-$r"
    mkdir -p "$work"
    enter_mounts "$work" "$r" || { leave_mounts "$work"; return 1; }
    # The checkout is read-only inside: capture into the chroot's /tmp, then copy out.
    in_root "$work/root" FIXTURES_DIR=/tmp/fixtures bash "$inside/scripts/capture-tool-output.sh" \
      && cp -r "$work/root/tmp/fixtures/." "$tmp/"
    leave_mounts "$work"; rm -rf "$work"
  done
  (cd "$tmp" && find . -type f | sort) | while read -r f; do
    if [ -e "$checkout/test/fixtures/tool-output/$f" ]; then
      echo "kept existing test/fixtures/tool-output/${f#./}"
    else
      mkdir -p "$(dirname "$checkout/test/fixtures/tool-output/$f")"
      cp "$tmp/$f" "$checkout/test/fixtures/tool-output/$f"
      echo "new test/fixtures/tool-output/${f#./}"
    fi
  done
}

# --- main -----------------------------------------------------------------------------------------------

runs=$(mktemp -d /var/tmp/hsm-ca-matrix.XXXXXX)
cell_logs="$cache/logs/cells"   # each cell's jest output, kept until the next run
cleanup() {
  local d
  for d in "$runs"/*/; do [ -d "$d" ] && leave_mounts "${d%/}"; done
  # Remove only once nothing is mounted below (a failed unmount must never lead rm into the checkout).
  grep -q " $runs/" /proc/self/mounts || rm -rf "$runs"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

case "${1:-}" in
  build) build_all trixie sid; exit ;;
  capture) build_all trixie sid && capture_all trixie sid; exit ;;
esac

cells=("$@")
[ ${#cells[@]} -gt 0 ] || cells=("${all_cells[@]}")
releases=()
for c in "${cells[@]}"; do
  case " ${all_cells[*]} " in *" $c "*) ;; *) die "unknown cell '$c' (cells: ${all_cells[*]})" ;; esac
  r=${c%/*}; r=${r%-noengine}
  [ "$r" = host ] || case " ${releases[*]} " in *" $r "*) ;; *) releases+=("$r") ;; esac
done

t0=$(date +%s)
rm -rf "$cell_logs"; mkdir -p "$cell_logs"
build_ok=1
build_all "${releases[@]}" || build_ok=0
log "root filesystems ready after $(( $(date +%s) - t0 )) s"

log "running ${#cells[@]} cells, $jobs at a time: ${tests[*]} without $ignore${MATRIX_CHROOT_SKIP:+ (chroot cells also without $MATRIX_CHROOT_SKIP)}"
i=0
for c in "${cells[@]}"; do
  i=$((i + 1))
  r=${c%/*}; r=${r%-noengine}
  if [ "$r" != host ] && [ ! -f "$(rootfs_dir "$r")/.complete" ]; then
    echo "$c|?|?|?|?|?|?|${c#*/}|0|1|0|no root filesystem" >"$runs/result-$i"
    continue
  fi
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  if [ -n "${MATRIX_DEADLINE:-}" ] && [ $((MATRIX_DEADLINE - $(date +%s))) -lt 180 ]; then
    echo "$c|?|?|?|?|?|?|${c#*/}|0|1|0|not run: out of time (MATRIX_DEADLINE)" >"$runs/result-$i"
    log "$c: not run, out of time"
    continue
  fi
  run_cell "$c" "$runs/result-$i" &
done
wait

header='| cell | OpenSSL | OpenSC | GnuTLS | libp11 | pkcs11-provider | Node | backend | passed | failed | seconds |'
{
  echo "$header"
  echo '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |'
  for n in $(seq 1 "$i"); do
    IFS='|' read -r cell o s g l p nd b pa fa sec note <"$runs/result-$n"
    echo "| $cell | $o | $s | $g | $l | $p | $nd | $b | $pa | $fa | $sec |"
  done
} >"$runs/table.md"
{
  echo "<!-- scripts/matrix.sh, $(date -u +%Y-%m-%d), $(nproc) CPUs, tests: ${tests[*]} without files matching $ignore; chroot cells also without ${MATRIX_CHROOT_SKIP:-nothing more} -->"
  cat "$runs/table.md"
} >"$results_md"
echo
column -t -s '|' -o '|' "$runs/table.md" 2>/dev/null || cat "$runs/table.md"
for n in $(seq 1 "$i"); do
  IFS='|' read -r cell _ _ _ _ _ _ _ _ _ _ note <"$runs/result-$n"
  [ -n "$note" ] && echo "$cell: $note"
done
total_p=0; total_f=0
for n in $(seq 1 "$i"); do
  IFS='|' read -r _ _ _ _ _ _ _ _ pa fa _ <"$runs/result-$n"
  total_p=$((total_p + ${pa:-0})); total_f=$((total_f + ${fa:-1}))
done
[ "$build_ok" = 1 ] || total_f=$((total_f + 1))
log "matrix took $(( $(date +%s) - t0 )) s; table in $results_md; each cell's output in $cell_logs/"
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
