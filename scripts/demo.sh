#!/usr/bin/env bash
# The whole ceremony on a throwaway SoftHSM2 token: init, root, intermediate, and one server certificate
# with SANs. Everything goes under ./demo-ca (or $DEMO_DIR); a previous demo there is replaced.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
demo=$(realpath -m "${DEMO_DIR:-$repo/demo-ca}")

if [ -e "$demo" ]; then
  if [ ! -e "$demo/.hsm-openssl-ca-demo" ]; then
    echo "demo: $demo exists and is not a demo made by this script; set DEMO_DIR to another folder" >&2
    exit 1
  fi
  rm -rf "$demo"
fi
mkdir -p "$demo/softhsm/tokens" "$demo/server"
touch "$demo/.hsm-openssl-ca-demo"

[ -f "$repo/dist/cli.js" ] || (cd "$repo" && npm run build --silent)
cli=(node "$repo/dist/cli.js")

# The demo token's PINs are throwaway values, made here and kept only in this shell's environment.
export SOFTHSM2_CONF="$demo/softhsm/softhsm2.conf"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$demo/softhsm/tokens" > "$SOFTHSM2_CONF"
HSM_CA_PIN=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ' | cut -c1-6)
DEMO_SO_PIN=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
export HSM_CA_PIN DEMO_SO_PIN
module=/usr/lib/softhsm/libsofthsm2.so
pkcs11-tool --module "$module" --slot-index 0 --init-token --label "Demo CA" --so-pin env:DEMO_SO_PIN >/dev/null 2>&1
pkcs11-tool --module "$module" --token-label "Demo CA" --init-pin --login --login-type so --so-pin env:DEMO_SO_PIN --new-pin env:HSM_CA_PIN >/dev/null

"${cli[@]}" init --dir "$demo/ca" --module "$module" --token "Demo CA" \
  --org "Demo Company" --country US --state "Demo State"
"${cli[@]}" root --dir "$demo/ca"
"${cli[@]}" intermediate --dir "$demo/ca"

openssl req -new -nodes -batch -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
  -keyout "$demo/server/www.key" -subj "/CN=www.demo.test" \
  -addext "subjectAltName=DNS:www.demo.test,DNS:demo.test,IP:127.0.0.1" -out "$demo/server/www.csr" 2>/dev/null
"${cli[@]}" server "$demo/server/www.csr" --dir "$demo/ca"

openssl verify -CAfile "$demo/ca/certs/root.crt" -untrusted "$demo/ca/intermediate/certs/intermediate.crt" "$demo/server/www.crt"

cat <<SUMMARY

Demo CA ready (SoftHSM2 token "Demo CA", store in $demo/softhsm):
  root certificate          $demo/ca/certs/root.crt
  intermediate certificate  $demo/ca/intermediate/certs/intermediate.crt
  chain (intermediate+root) $demo/ca/intermediate/certs/chain.crt
  server certificate        $demo/server/www.crt   (key: $demo/server/www.key)
  rendered OpenSSL configs  $demo/ca/config/
  settings                  $demo/ca/hsm-openssl-ca.json
The token's PIN lived only in this script's environment; the demo token is throwaway.
SUMMARY
