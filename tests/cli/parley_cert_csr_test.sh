#!/usr/bin/env bash
# parley-cert csr and parley-cert ca, checked from outside with an independent tool (the openssl
# CLI): every request must pass `openssl req -verify` and show the expected subject and SANs, every
# key must load in `openssl pkey`, lab CA certificates must pass `openssl verify` and Parley's own
# `parley-cert verify`. Bad input must exit 2 with a message naming the problem and leave no file.
#
# Usage: parley_cert_csr_test.sh PATH/TO/parley-cert
# Prints one line per check and finally "N passed, M failed"; exits non-zero when a check failed.

set -euo pipefail

if [[ $# -ne 1 || ! -x $1 ]]; then
  echo "usage: $0 PATH/TO/parley-cert" >&2
  exit 2
fi
parley_cert=$1
command -v openssl >/dev/null || { echo "openssl CLI not found" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/parley-cert-csr-test.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"' EXIT

passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "FAIL - $1${2:+ ($2)}"; failed=$((failed + 1)); }

# Runs a command, keeping its exit code in $status and its output in $work/stdout, $work/stderr.
run() {
  set +e
  "$@" >"$work/stdout" 2>"$work/stderr"
  status=$?
  set -e
}

# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
  local description=$1
  shift
  if "$@"; then ok "$description"; else not_ok "$description"; fi
}

# The requests' text as openssl prints it, with the verification verdict.
request_text() { openssl req -verify -noout -text -in "$1" 2>&1; }
# "C = DE, ST = Berlin, ..., CN = example.com"
subject_of() { openssl req -noout -subject -nameopt sep_comma_plus_space,space_eq -in "$1" | sed 's/^subject=//'; }
# The line after "X509v3 Subject Alternative Name:", trimmed.
san_of() { request_text "$1" | awk '/X509v3 Subject Alternative Name/ { getline; sub(/^ +/, ""); print; exit }'; }
mode_of() { stat -c %a "$1"; }
same_public_key() {
  [[ "$(openssl pkey -in "$1" -pubout)" == "$(openssl req -in "$2" -noout -pubkey)" ]]
}
# expect_refusal DESCRIPTION MESSAGE_PART DIRECTORY COMMAND...: exit 2, the message on stderr,
# and DIRECTORY (if it exists) as empty as before.
expect_refusal() {
  local description=$1 message=$2 directory=$3
  shift 3
  local before=""
  [[ -d $directory ]] && before=$(ls -A "$directory")
  run "$@"
  local after=""
  [[ -d $directory ]] && after=$(ls -A "$directory")
  if [[ $status -ne 2 ]]; then
    not_ok "$description" "exit $status, expected 2; stderr: $(head -c 300 "$work/stderr")"
  elif ! grep -qF -- "$message" "$work/stderr"; then
    not_ok "$description" "stderr lacks '$message': $(head -c 300 "$work/stderr")"
  elif [[ $before != "$after" ]]; then
    not_ok "$description" "files changed: before [$before] after [$after]"
  else
    ok "$description"
  fi
}

# ---- xmpp, private CA, two nodes --------------------------------------------------------------

out=$work/xmpp-private
run "$parley_cert" csr --service xmpp --fqdn node1.example.com --fqdn node2.example.com --domain example.com \
  --subject "O=Example Corp,OU=IT,L=Berlin,ST=Berlin,C=DE" --profile private-ca --key ec:P-256 --out-dir "$out"
check "xmpp private-ca: exit 0" test "$status" -eq 0
csr=$out/xmpp-node1.example.com.csr
key=$out/xmpp-node1.example.com.key
check "xmpp private-ca: openssl req -verify accepts the request" \
  bash -c "openssl req -verify -noout -in '$csr' 2>&1 | grep -q 'verify OK'"
check "xmpp private-ca: the request is Base64 PEM" grep -q -- '-----BEGIN CERTIFICATE REQUEST-----' "$csr"
subject=$(subject_of "$csr" 2>/dev/null || true)
check "xmpp private-ca: subject is C, ST, L, O, OU and CN = the domain ($subject)" \
  test "$subject" = "C = DE, ST = Berlin, L = Berlin, O = Example Corp, OU = IT, CN = example.com"
san=$(san_of "$csr" 2>/dev/null || true)
check "xmpp private-ca: SANs are the domain, the nodes, XmppAddr and both SRVNames ($san)" \
  test "$san" = "DNS:example.com, DNS:node1.example.com, DNS:node2.example.com, othername: XmppAddr::example.com, othername: SRVName::_xmpp-client.example.com, othername: SRVName::_xmpp-server.example.com"
check "xmpp private-ca: openssl pkey loads the key" openssl pkey -in "$key" -noout
check "xmpp private-ca: the key is the request's key" same_public_key "$key" "$csr"
check "xmpp private-ca: key mode 0600" test "$(mode_of "$key")" = 600
check "xmpp private-ca: out dir created with mode 0700" test "$(mode_of "$out")" = 700
check "xmpp private-ca: signed with ecdsa-with-SHA256" \
  bash -c "openssl req -noout -text -in '$csr' | grep -q 'Signature Algorithm: ecdsa-with-SHA256'"

# ---- xmpp, public CA: no otherNames ------------------------------------------------------------

out=$work/xmpp-public
run "$parley_cert" csr --service xmpp --fqdn node1.example.com --domain example.com --subject "O=Example Corp,C=US" \
  --out-dir "$out"
check "xmpp public-ca: exit 0" test "$status" -eq 0
csr=$out/xmpp-node1.example.com.csr
check "xmpp public-ca: openssl req -verify accepts the request" \
  bash -c "openssl req -verify -noout -in '$csr' 2>&1 | grep -q 'verify OK'"
san=$(san_of "$csr" 2>/dev/null || true)
check "xmpp public-ca: dNSNames only, no XmppAddr or SRVName ($san)" \
  test "$san" = "DNS:example.com, DNS:node1.example.com"
check "xmpp public-ca: default key is RSA 2048" \
  bash -c "openssl req -noout -text -in '$csr' | grep -q 'Public-Key: (2048 bit)'"
check "xmpp public-ca: openssl pkey loads the key" openssl pkey -in "$out/xmpp-node1.example.com.key" -noout
check "xmpp public-ca: the output notes that public CAs refuse otherNames" grep -q "XmppAddr" "$work/stdout"

# ---- https, multi-server SAN -------------------------------------------------------------------

out=$work/https
run "$parley_cert" csr --service https --fqdn cucm1.example.com --fqdn cucm2.example.com --fqdn cucm3.example.com \
  --subject "O=Example Corp,OU=Voice,C=GB" --key rsa:3072 --out-dir "$out"
check "https multi-server: exit 0" test "$status" -eq 0
csr=$out/https-cucm1.example.com.csr
check "https multi-server: openssl req -verify accepts the request" \
  bash -c "openssl req -verify -noout -in '$csr' 2>&1 | grep -q 'verify OK'"
subject=$(subject_of "$csr" 2>/dev/null || true)
check "https multi-server: CN is the first node ($subject)" \
  test "$subject" = "C = GB, O = Example Corp, OU = Voice, CN = cucm1.example.com"
san=$(san_of "$csr" 2>/dev/null || true)
check "https multi-server: one dNSName per node ($san)" \
  test "$san" = "DNS:cucm1.example.com, DNS:cucm2.example.com, DNS:cucm3.example.com"
check "https multi-server: RSA 3072 key" \
  bash -c "openssl req -noout -text -in '$csr' | grep -q 'Public-Key: (3072 bit)'"
check "https multi-server: openssl pkey loads the key" openssl pkey -in "$out/https-cucm1.example.com.key" -noout

# ---- sip, P-384, JSON --------------------------------------------------------------------------

out=$work/sip
run "$parley_cert" csr --service sip --fqdn sip.example.com --key ec:P-384 --out-dir "$out" --json
check "sip --json: exit 0" test "$status" -eq 0
check "sip --json: output is JSON naming both files" python3 -c '
import json, sys
out = json.load(open(sys.argv[1]))
assert out["key_file"].endswith("sip-sip.example.com.key"), out
assert out["csr_file"].endswith("sip-sip.example.com.csr"), out
assert out["subject_alt_names"] == [{"type": "dNSName", "value": "sip.example.com"}], out
' "$work/stdout"
csr=$out/sip-sip.example.com.csr
check "sip: openssl req -verify accepts the request" \
  bash -c "openssl req -verify -noout -in '$csr' 2>&1 | grep -q 'verify OK'"
check "sip: P-384 key signed with SHA-384" \
  bash -c "openssl req -noout -text -in '$csr' | grep -q 'NIST CURVE: P-384' && openssl req -noout -text -in '$csr' | grep -q 'ecdsa-with-SHA384'"
check "sip: openssl pkey loads the key" openssl pkey -in "$out/sip-sip.example.com.key" -noout

# ---- bad input: exit 2, the problem named, nothing written ------------------------------------

bad=$work/bad
mkdir "$bad"
expect_refusal "an IP address as identity is refused" "is an IP address" "$bad" \
  "$parley_cert" csr --service https --fqdn 10.0.0.1 --out-dir "$bad"
expect_refusal "an IPv6 address as identity is refused" "is an IP address" "$bad" \
  "$parley_cert" csr --service https --fqdn 2001:db8::1 --out-dir "$bad"
expect_refusal "a short host name is refused" "'chat' is a short host name" "$bad" \
  "$parley_cert" csr --service https --fqdn chat --out-dir "$bad"
expect_refusal "a short name among FQDNs is refused" "'chat' is a short host name" "$bad" \
  "$parley_cert" csr --service https --fqdn web.example.com --fqdn chat --out-dir "$bad"
expect_refusal "a short XMPP domain is refused" "domain 'example' is a short host name" "$bad" \
  "$parley_cert" csr --service xmpp --fqdn node1.example.com --domain example --out-dir "$bad"
expect_refusal "an invalid DNS name is refused" "not a valid DNS name" "$bad" \
  "$parley_cert" csr --service https --fqdn bad_name.example.com --out-dir "$bad"
expect_refusal "rsa:1024 is refused" "shorter than 2048 bits" "$bad" \
  "$parley_cert" csr --service https --fqdn web.example.com --key rsa:1024 --out-dir "$bad"
expect_refusal "an unknown key type is refused" "unknown key type" "$bad" \
  "$parley_cert" csr --service https --fqdn web.example.com --key dsa:2048 --out-dir "$bad"
expect_refusal "'&' in O is refused for a public CA" "contains '&'" "$bad" \
  "$parley_cert" csr --service https --fqdn web.example.com --subject "O=Example & Sons" --out-dir "$bad"
expect_refusal "'@' in OU is refused for a public CA" "contains '@'" "$bad" \
  "$parley_cert" csr --service https --fqdn web.example.com --subject "OU=it@example" --out-dir "$bad"
expect_refusal "'!' in L is refused for a public CA" "contains '!'" "$bad" \
  "$parley_cert" csr --service https --fqdn web.example.com --subject "L=Wow!" --out-dir "$bad"
expect_refusal "CN in --subject is refused" "CN cannot be given" "$bad" \
  "$parley_cert" csr --service https --fqdn web.example.com --subject "CN=x.example.com" --out-dir "$bad"
expect_refusal "xmpp without --domain is refused" "XMPP domain" "$bad" \
  "$parley_cert" csr --service xmpp --fqdn node1.example.com --out-dir "$bad"
expect_refusal "an unknown service is refused" "expected xmpp, https or sip" "$bad" \
  "$parley_cert" csr --service ftp --fqdn web.example.com --out-dir "$bad"

out=$work/private-subject
run "$parley_cert" csr --service https --fqdn web.example.com --subject "O=Example & Sons!" --profile private-ca \
  --key ec:P-256 --out-dir "$out"
check "'&' and '!' in O are allowed for a private CA" test "$status" -eq 0
check "private CA subject as openssl reads it" \
  test "$(subject_of "$out/https-web.example.com.csr" 2>/dev/null || true)" = "O = Example & Sons!, CN = web.example.com"

# An existing key is never overwritten, and the attempt leaves nothing new behind.
existing=$work/existing
mkdir "$existing"
echo "the only copy of a key a certificate was issued for" >"$existing/https-web.example.com.key"
before=$(sha256sum "$existing/https-web.example.com.key")
expect_refusal "an existing key file is refused, naming it" "$existing/https-web.example.com.key: already exists" \
  "$existing" "$parley_cert" csr --service https --fqdn web.example.com --key ec:P-256 --out-dir "$existing"
check "the existing key is unchanged" test "$(sha256sum "$existing/https-web.example.com.key")" = "$before"

existing_csr=$work/existing-csr
mkdir "$existing_csr"
echo "someone else's request" >"$existing_csr/https-web.example.com.csr"
expect_refusal "an existing request file is refused, naming it" "https-web.example.com.csr: already exists" \
  "$existing_csr" "$parley_cert" csr --service https --fqdn web.example.com --key ec:P-256 --out-dir "$existing_csr"

# Unwritable output directories. Permission bits do not stop root, so a directory below a regular
# file (which nobody can create) stands in for that case.
echo x >"$work/a-file"
expect_refusal "an out dir below a regular file is refused, naming it" "$work/a-file/out" "$work" \
  "$parley_cert" csr --service https --fqdn web.example.com --key ec:P-256 --out-dir "$work/a-file/out"
expect_refusal "an out dir that is a regular file is refused" "not a directory" "$work" \
  "$parley_cert" csr --service https --fqdn web.example.com --key ec:P-256 --out-dir "$work/a-file"
if [[ $(id -u) -ne 0 ]]; then
  readonly_dir=$work/readonly
  mkdir "$readonly_dir"
  chmod 0500 "$readonly_dir"
  expect_refusal "a read-only out dir is refused, naming it" "$readonly_dir" "$readonly_dir" \
    "$parley_cert" csr --service https --fqdn web.example.com --key ec:P-256 --out-dir "$readonly_dir"
  chmod 0700 "$readonly_dir"
else
  echo "skip - a read-only out dir (root ignores permission bits; the regular-file cases above cover it)"
fi

# ---- the lab CA ---------------------------------------------------------------------------------

ca=$work/lab-ca
run "$parley_cert" ca init --out-dir "$ca"
check "ca init: exit 0" test "$status" -eq 0
check "ca init: warns that it is not for production" grep -q "NOT FOR PRODUCTION" "$work/stderr"
check "ca init: key mode 0600" test "$(mode_of "$ca/ca.key")" = 600
check "ca init: openssl pkey loads the CA key" openssl pkey -in "$ca/ca.key" -noout
ca_text=$(openssl x509 -in "$ca/ca.crt" -noout -text 2>/dev/null || true)
check "ca init: subject says NOT FOR PRODUCTION" grep -q "Subject: O = Parley Lab - NOT FOR PRODUCTION, CN = Parley Lab CA" <<<"$ca_text"
check "ca init: basicConstraints CA:TRUE critical" \
  bash -c "grep -A1 'Basic Constraints: critical' <<<\"\$1\" | grep -q 'CA:TRUE'" _ "$ca_text"
check "ca init: keyUsage keyCertSign, cRLSign critical" \
  bash -c "grep -A1 'Key Usage: critical' <<<\"\$1\" | grep -q 'Certificate Sign, CRL Sign'" _ "$ca_text"
check "ca init: subjectKeyIdentifier present" grep -q "Subject Key Identifier" <<<"$ca_text"
check "ca init: openssl verifies the root against itself" \
  bash -c "openssl verify -CAfile '$ca/ca.crt' '$ca/ca.crt' | grep -q ': OK'"
expect_refusal "ca init into an existing CA is refused" "ca.key: already exists" "$ca" \
  "$parley_cert" ca init --out-dir "$ca"

# An XMPP certificate from the private-ca request above.
leaf=$work/xmpp.crt
run "$parley_cert" ca issue --ca-dir "$ca" --csr "$work/xmpp-private/xmpp-node1.example.com.csr" --out "$leaf"
check "ca issue xmpp: exit 0" test "$status" -eq 0
check "ca issue: warns that it is not for production" grep -q "NOT FOR PRODUCTION" "$work/stderr"
check "ca issue xmpp: openssl verify -CAfile accepts it" \
  bash -c "openssl verify -CAfile '$ca/ca.crt' '$leaf' | grep -q ': OK'"
check "ca issue xmpp: openssl verify accepts it for the ssl_server purpose" \
  bash -c "openssl verify -purpose sslserver -CAfile '$ca/ca.crt' '$leaf' | grep -q ': OK'"
check "ca issue xmpp: openssl verify accepts it for the ssl_client purpose (s2s)" \
  bash -c "openssl verify -purpose sslclient -CAfile '$ca/ca.crt' '$leaf' | grep -q ': OK'"
leaf_text=$(openssl x509 -in "$leaf" -noout -text 2>/dev/null || true)
check "ca issue xmpp: the request's SANs are copied" \
  grep -q "DNS:example.com, DNS:node1.example.com, DNS:node2.example.com, othername: XmppAddr::example.com, othername: SRVName::_xmpp-client.example.com, othername: SRVName::_xmpp-server.example.com" <<<"$leaf_text"
check "ca issue xmpp: serverAuth and clientAuth" \
  grep -q "TLS Web Server Authentication, TLS Web Client Authentication" <<<"$leaf_text"
check "ca issue xmpp: CA:FALSE critical" \
  bash -c "grep -A1 'Basic Constraints: critical' <<<\"\$1\" | grep -q 'CA:FALSE'" _ "$leaf_text"
check "ca issue xmpp: authorityKeyIdentifier present" grep -q "Authority Key Identifier" <<<"$leaf_text"
run "$parley_cert" verify "$leaf" --ca "$ca/ca.crt" --host example.com --service xmpp-client --revocation soft
check "ca issue xmpp: parley-cert verify accepts it for xmpp-client example.com" test "$status" -eq 0
run "$parley_cert" verify "$leaf" --ca "$ca/ca.crt" --host example.com --service xmpp-server --revocation soft
check "ca issue xmpp: parley-cert verify accepts it for xmpp-server example.com" test "$status" -eq 0
run "$parley_cert" verify "$leaf" --ca "$ca/ca.crt" --host other.example.com --service xmpp-client --revocation soft
check "ca issue xmpp: parley-cert verify refuses it for another domain (exit 1)" test "$status" -eq 1

# An HTTPS certificate from the RSA multi-server request, for its third node.
leaf=$work/https.crt
run "$parley_cert" ca issue --ca-dir "$ca" --csr "$work/https/https-cucm1.example.com.csr" --out "$leaf" --days 30 --json
check "ca issue https: exit 0" test "$status" -eq 0
check "ca issue https: --json names the service" python3 -c '
import json, sys
out = json.load(open(sys.argv[1]))
assert out["service"] == "https" and out["not_for_production"] is True, out
' "$work/stdout"
check "ca issue https: openssl verify -CAfile accepts it" \
  bash -c "openssl verify -CAfile '$ca/ca.crt' '$leaf' | grep -q ': OK'"
leaf_text=$(openssl x509 -in "$leaf" -noout -text 2>/dev/null || true)
check "ca issue https: serverAuth only" \
  bash -c "grep -A1 'Extended Key Usage' <<<\"\$1\" | tail -1 | grep -qx ' *TLS Web Server Authentication'" _ "$leaf_text"
check "ca issue https: RSA key gets digitalSignature and keyEncipherment" \
  bash -c "grep -A1 'Key Usage: critical' <<<\"\$1\" | grep -q 'Digital Signature, Key Encipherment'" _ "$leaf_text"
run "$parley_cert" verify "$leaf" --ca "$ca/ca.crt" --host cucm3.example.com --service https --revocation soft
check "ca issue https: parley-cert verify accepts it for cucm3.example.com" test "$status" -eq 0

# A request made by the openssl CLI (not by Parley) is issued too.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/openssl.key" \
  -subj "/CN=app.example.com" -addext "subjectAltName=DNS:app.example.com" -out "$work/openssl.csr" 2>/dev/null
run "$parley_cert" ca issue --ca-dir "$ca" --csr "$work/openssl.csr" --out "$work/openssl.crt"
check "ca issue: a request made by openssl req is issued" test "$status" -eq 0
check "ca issue: openssl verify accepts that certificate" \
  bash -c "openssl verify -CAfile '$ca/ca.crt' '$work/openssl.crt' | grep -q ': OK'"

# What the lab CA refuses.
issued_dir=$work/issued
mkdir "$issued_dir"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ip.key" \
  -subj "/CN=10.0.0.1" -addext "subjectAltName=IP:10.0.0.1" -out "$work/ip.csr" 2>/dev/null
expect_refusal "ca issue: an iPAddress SAN is refused" "iPAddress" "$issued_dir" \
  "$parley_cert" ca issue --ca-dir "$ca" --csr "$work/ip.csr" --out "$issued_dir/ip.crt"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/short.key" \
  -subj "/CN=chat" -addext "subjectAltName=DNS:chat" -out "$work/short.csr" 2>/dev/null
expect_refusal "ca issue: a short host name SAN is refused" "short host name" "$issued_dir" \
  "$parley_cert" ca issue --ca-dir "$ca" --csr "$work/short.csr" --out "$issued_dir/short.crt"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/nosan.key" \
  -subj "/CN=app.example.com" -out "$work/nosan.csr" 2>/dev/null
expect_refusal "ca issue: a request without subjectAltName is refused" "no subjectAltName" "$issued_dir" \
  "$parley_cert" ca issue --ca-dir "$ca" --csr "$work/nosan.csr" --out "$issued_dir/nosan.crt"
expect_refusal "ca issue: --days 826 is refused" "--days 826" "$issued_dir" \
  "$parley_cert" ca issue --ca-dir "$ca" --csr "$work/openssl.csr" --out "$issued_dir/long.crt" --days 826
expect_refusal "ca issue: an existing --out is never overwritten" "openssl.crt: already exists" "$work" \
  "$parley_cert" ca issue --ca-dir "$ca" --csr "$work/openssl.csr" --out "$work/openssl.crt"
echo "not a request" >"$work/garbage.csr"
expect_refusal "ca issue: a file that is no request is refused, naming it" "$work/garbage.csr" "$issued_dir" \
  "$parley_cert" ca issue --ca-dir "$ca" --csr "$work/garbage.csr" --out "$issued_dir/garbage.crt"
expect_refusal "ca issue: a missing CA directory is refused, naming the file" "$work/no-ca/ca.key" "$issued_dir" \
  "$parley_cert" ca issue --ca-dir "$work/no-ca" --csr "$work/openssl.csr" --out "$issued_dir/x.crt"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
