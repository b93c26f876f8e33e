#!/usr/bin/env bash
# Captures what pkcs11-tool, p11tool and openssl (libp11 engine) print on openCryptoki's soft token
# after 0, 1, 2 and 3 wrong PINs, into test/fixtures/tool-output/<tool>/<version>/opencryptoki-*.txt.
# Re-initialises the system-wide soft token (all its keys are lost) and leaves it initialised with
# user PIN 24681357. Needs root and scripts/setup-opencryptoki.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup-opencryptoki.sh" --start >/dev/null
module=$(ls /usr/lib/*/pkcs11/libopencryptoki.so | head -1)
slot=$(grep -B3 -E '^[[:space:]]*stdll[[:space:]]*=[[:space:]]*libpkcs11_sw\.so' /etc/opencryptoki/opencryptoki.conf | grep -Eo '^[[:space:]]*slot[[:space:]]+[0-9]+' | grep -Eo '[0-9]+' | tail -1)
label="OCK CA"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SO_PIN=87654321 GOOD_PIN=24681357 BAD_PIN=11112222

opensc=$(dpkg-query -W -f='${Version}' opensc | cut -d- -f1)
gnutls=$(dpkg-query -W -f='${Version}' gnutls-bin | cut -d- -f1)
libp11=$(dpkg-query -W -f='${Version}' libengine-pkcs11-openssl | cut -d- -f1)
ossl=$(openssl version | cut -d' ' -f2)
p11dir="$root/test/fixtures/tool-output/pkcs11-tool/$opensc"
gtdir="$root/test/fixtures/tool-output/p11tool/$gnutls"
osdir="$root/test/fixtures/tool-output/openssl/$ossl-libp11-$libp11"
mkdir -p "$p11dir" "$gtdir" "$osdir"

p11() { pkcs11-tool --module "$module" "$@"; }
p11 --slot "$slot" --init-token --label "$label" --so-pin env:SO_PIN >/dev/null
reset_pin() { p11 --token-label "$label" --login --login-type so --so-pin env:SO_PIN --init-pin --new-pin env:GOOD_PIN >/dev/null; }
reset_pin
GOOD=$GOOD_PIN p11 --token-label "$label" --login --pin env:GOOD --keypairgen --key-type rsa:2048 --label k1 --id 01 >/dev/null
printf 'openssl_conf = openssl_init\n[ openssl_init ]\nengines = engine_section\n[ engine_section ]\npkcs11 = pkcs11_section\n[ pkcs11_section ]\nengine_id = pkcs11\nMODULE_PATH = %s\ninit = 0\n' "$module" > "$work/engine.cnf"

# One login with each tool; stderr (tool output only) to $2.
login() {
  case $1 in
    pkcs11-tool) PIN=$3 p11 --token-label "$label" --login --pin env:PIN --list-objects >/dev/null 2>"$2" || true ;;
    p11tool) GNUTLS_PIN=$3 p11tool --batch --provider "$module" --login --only-urls --list-all-privkeys "pkcs11:token=OCK%20CA" >/dev/null 2>"$2" || true ;;
    openssl) PIN=$3 OPENSSL_CONF="$work/engine.cnf" openssl req -engine pkcs11 -keyform engine -passin env:PIN -key "pkcs11:token=OCK%20CA;object=k1;type=private" -new -subj /CN=x -out "$work/x.csr" >/dev/null 2>"$2" || true ;;
  esac
}
states() {
  p11tool --batch --provider "$module" --list-tokens > "$gtdir/opencryptoki-list-tokens-$1.txt"
  p11 --list-token-slots > "$p11dir/opencryptoki-list-token-slots-$1.txt"
}

states 0-wrong
login pkcs11-tool "$p11dir/opencryptoki-login-wrong-pin.txt" "$BAD_PIN"; states 1-wrong
login p11tool "$gtdir/opencryptoki-login-wrong-pin.txt" "$BAD_PIN"; states 2-wrong
login openssl "$osdir/opencryptoki-req-wrong-pin.txt" "$BAD_PIN"; states 3-wrong
# Locked: even the right PIN is refused.
login pkcs11-tool "$p11dir/opencryptoki-login-locked.txt" "$GOOD_PIN"
login p11tool "$gtdir/opencryptoki-login-locked.txt" "$GOOD_PIN"
login openssl "$osdir/opencryptoki-req-locked.txt" "$GOOD_PIN"
reset_pin
echo "captured into $p11dir, $gtdir and $osdir"
