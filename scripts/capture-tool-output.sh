#!/usr/bin/env bash
# Captures what this machine's pkcs11-tool and p11tool print, against a throwaway SoftHSM2 token,
# into test/fixtures/tool-output/<tool>/<version>/ so the parsers are tested on real output.
# FIXTURES_DIR=DIR writes into DIR/<tool>/<version>/ instead. scripts/matrix.sh capture runs this in every
# release of the matrix (Debian 12 on the host, 13 and sid in chroots).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${FIXTURES_DIR:-$root/test/fixtures/tool-output}
module=${MODULE:-/usr/lib/softhsm/libsofthsm2.so}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$work" > "$work/softhsm2.conf"
export SOFTHSM2_CONF="$work/softhsm2.conf" HSM_CA_PIN=123456 GNUTLS_PIN=123456
softhsm2-util --init-token --free --label "CA Token" --pin 123456 --so-pin 12345678 >/dev/null

opensc=$(dpkg-query -W -f='${Version}' opensc | cut -d- -f1)
gnutls=$(dpkg-query -W -f='${Version}' gnutls-bin | cut -d- -f1)
p11dir="$out/pkcs11-tool/$opensc"
gtdir="$out/p11tool/$gnutls"
mkdir -p "$p11dir" "$gtdir"

# pkcs11-tool has no --version; opensc-tool --info names the OpenSC release (it needs libpcsclite1).
opensc-tool --info > "$p11dir/opensc-tool-info.txt" || { echo "capture: opensc-tool --info failed" >&2; rm -f "$p11dir/opensc-tool-info.txt"; }
pkcs11-tool --module "$module" -L > "$p11dir/list-slots.txt"
p11() { pkcs11-tool --module "$module" --token-label "CA Token" "$@"; }
p11 --login --pin env:HSM_CA_PIN --keypairgen --key-type EC:secp384r1 --label root --id e0161cc8b6f5d66ac6835ecdecb623fc0506a675 > "$p11dir/keypairgen-ec-secp384r1.txt"
p11 --login --pin env:HSM_CA_PIN --keypairgen --key-type EC:secp256r1 --label p256 --id 02 > "$p11dir/keypairgen-ec-secp256r1.txt"
p11 --login --pin env:HSM_CA_PIN --keypairgen --key-type EC:secp521r1 --label p521 --id 04 > "$p11dir/keypairgen-ec-secp521r1.txt"
p11 --login --pin env:HSM_CA_PIN --keypairgen --key-type rsa:2048 --label rsa2048 --id 05 > "$p11dir/keypairgen-rsa-2048.txt"
p11 --login --pin env:HSM_CA_PIN --keypairgen --key-type rsa:4096 --label "Root CA;2024/ä \"q\"" --id 03 > "$p11dir/keypairgen-rsa-4096.txt"
p11 --login --pin env:HSM_CA_PIN --list-objects > "$p11dir/list-objects-login.txt"
# What a token shows without a login (how a signing finds its CA key): a second token with a CA's two keys.
softhsm2-util --init-token --free --label "CA Keys" --pin 123456 --so-pin 12345678 >/dev/null
keys() { pkcs11-tool --module "$module" --token-label "CA Keys" "$@"; }
keys --login --pin env:HSM_CA_PIN --keypairgen --key-type EC:secp256r1 --label root --id 0a1b2c >/dev/null
keys --login --pin env:HSM_CA_PIN --keypairgen --key-type EC:secp256r1 --label intermediate --id 3d4e5f >/dev/null
keys --list-objects > "$p11dir/list-objects-no-login.txt"

p11tool --provider "$module" --list-tokens > "$gtdir/list-tokens.txt"
token=$(p11tool --provider "$module" --list-token-urls | head -1)
p11tool --batch --provider "$module" --login --list-all "$token" > "$gtdir/list-all-login.txt"
p11tool --batch --provider "$module" --login --only-urls --list-all-privkeys "$token" > "$gtdir/list-privkeys-only-urls.txt"
echo "captured into $p11dir and $gtdir"
