#!/usr/bin/env bash
# Command-line checks of `parley-cert lint` and `parley-cert inspect`: exit codes (0 clean, 1
# findings with an error, 2 unusable input), the JSON shape, and the bad input of issue 6 (non-PEM,
# DER where PEM was expected, a truncated CSR, a 10 MB file, an unreadable path): each must give a
# message naming the file and the problem, exit 2, and never a crash.
# usage: tests/cli/parley_cert_lint_test.sh PATH/TO/parley-cert
set -euo pipefail
cert=${1:?usage: $0 PATH/TO/parley-cert}
root=$(cd "$(dirname "$0")/../.." && pwd)
fixtures=$root/tests/fixtures/lint
work=$(mktemp -d)
trap 'chmod -R u+rwx "$work" 2>/dev/null; rm -rf "$work"' EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }

# run ARGS...: runs parley-cert, keeping stdout, stderr and the exit code; a signal (exit > 128,
# i.e. a crash) always fails the check that follows.
run() {
  set +e
  "$cert" "$@" >"$work/out" 2>"$work/err"
  code=$?
  set -e
}

# expect NAME CODE [STDOUT_TEXT] [STDERR_TEXT]
expect() {
  local name=$1 want=$2 out_text=${3:-} err_text=${4:-}
  if [ "$code" -ne "$want" ]; then
    bad "$name: exit $code, expected $want ($(head -c 300 "$work/err"))"
    return
  fi
  if [ -n "$out_text" ] && ! grep -qF -- "$out_text" "$work/out"; then
    bad "$name: stdout lacks \"$out_text\""
    return
  fi
  if [ -n "$err_text" ] && ! grep -qF -- "$err_text" "$work/err"; then
    bad "$name: stderr lacks \"$err_text\" ($(head -c 300 "$work/err"))"
    return
  fi
  ok "$name"
}

# --- exit codes for linted requests ---------------------------------------------------------------
run lint "$fixtures/good.csr"
expect "clean request exits 0" 0 "no findings"
run lint "$fixtures/good.csr" "$fixtures/good-rsa.csr" --profile private-ca
expect "clean set under private-ca exits 0" 0 "0 errors"
run lint "$fixtures/forbidden-chars.csr"
expect "forbidden characters are an error for a public CA" 1 "[subject-forbidden-characters] subject.O"
run lint --profile private-ca "$fixtures/forbidden-chars.csr"
expect "forbidden characters only warn for a private CA" 0 "warning [subject-forbidden-characters]"
run lint "$fixtures/rsa1024.csr"
expect "RSA 1024 is an error" 1 "[key-too-small]"
run lint "$fixtures/sha1.csr"
expect "SHA-1 signature is an error" 1 "[signature-algorithm-weak]"
run lint "$fixtures/corrupted.csr"
expect "flipped signature byte is an error, not a crash" 1 "[signature-invalid]"
run lint "$fixtures/ip-san.csr"
expect "IP address SAN is an error" 1 "[identity-ip-address]"
run lint "$fixtures/short-hostname.csr"
expect "short host name is an error" 1 "[identity-short-hostname]"
run lint "$fixtures/no-san.csr"
expect "missing SAN is an error" 1 "[san-missing]"
run lint "$fixtures/cn-not-in-san.csr"
expect "CN outside the SANs is an error" 1 "[cn-not-in-san]"
run lint "$fixtures/xmpp-othername.csr"
expect "XmppAddr for a public CA is an error" 1 "[san-xmpp-othername]"
run lint --profile private-ca "$fixtures/xmpp-othername.csr"
expect "XmppAddr for a private CA is fine" 0 "no findings"
run lint "$fixtures/wildcard.csr"
expect "wildcard only warns" 0 "warning [identity-wildcard]"
run lint "$fixtures/inconsistent-o-a.csr" "$fixtures/inconsistent-o-b.csr"
expect "inconsistent O across a set warns" 0 "[subject-inconsistent] subject.O"
run lint "$fixtures/same-fqdn-tomcat.csr" "$fixtures/same-fqdn-xmpp.csr"
if [ "$code" -eq 0 ] && grep -qF "same-fqdn-tomcat.csr both name cups1.example.test" "$work/out" &&
   grep -qF "Some public CAs sign only one certificate per FQDN" "$work/out"; then
  ok "two CSRs for one FQDN warn, naming both files"
else
  bad "two CSRs for one FQDN warn, naming both files (exit $code)"
fi

# --- JSON ------------------------------------------------------------------------------------------
run lint --json "$fixtures/forbidden-chars.csr" "$fixtures/rsa1024.csr"
if [ "$code" -eq 1 ] && python3 - "$work/out" <<'EOF'
import json, sys
findings = json.load(open(sys.argv[1]))
# Two findings in forbidden-chars.csr, one in rsa1024.csr, and three set findings (O and OU differ,
# both name xmpp.example.test).
assert isinstance(findings, list) and len(findings) == 6, findings
for f in findings:
    assert set(f) == {"severity", "rule", "file", "field", "message", "fix"}, f
    assert f["severity"] in ("error", "warning", "info"), f
assert [f["rule"] for f in findings] == ["subject-forbidden-characters"] * 2 + ["key-too-small"] + \
    ["subject-inconsistent"] * 2 + ["fqdn-duplicate"], findings
EOF
then ok "--json prints an array of complete findings"; else bad "--json prints an array of complete findings"; fi
run lint --json "$fixtures/good.csr"
if [ "$code" -eq 0 ] && [ "$(tr -d '[:space:]' < "$work/out")" = "[]" ]; then
  ok "--json prints [] for a clean request"
else
  bad "--json prints [] for a clean request"
fi

# --- bad input: message naming the file and the problem, exit 2 ------------------------------------
run lint "$fixtures/der.csr"
expect "DER where PEM was expected" 2 "[csr-not-pem]" "der.csr: the request is binary DER"
run lint "$fixtures/truncated.csr"
expect "truncated PEM request" 2 "[csr-pem-truncated]" "truncated.csr: the PEM request has no"
head -c 700 "$fixtures/good-rsa.csr" > "$work/cut.csr"
echo "-----END CERTIFICATE REQUEST-----" >> "$work/cut.csr"
run lint "$work/cut.csr"
if [ "$code" -eq 2 ] && grep -qF "cut.csr:" "$work/err"; then ok "request cut inside the Base64"; else bad "request cut inside the Base64 (exit $code)"; fi
echo "this is a README, not a CSR" > "$work/readme.txt"
run lint "$work/readme.txt"
expect "plain text file" 2 "[csr-not-a-request]" "readme.txt: the file is text without a PEM block"
head -c 4096 /dev/urandom > "$work/random.bin"
run lint "$work/random.bin"
expect "random binary file" 2 "[csr-not-a-request]" "random.bin:"
: > "$work/empty.csr"
run lint "$work/empty.csr"
expect "empty file" 2 "" "empty.csr: the file is empty"
run lint "$fixtures/not-a-csr.csr"
expect "certificate given as CSR" 2 "" "labelled \"CERTIFICATE\""
head -c $((10 * 1024 * 1024)) /dev/zero > "$work/huge.csr"
run lint "$work/huge.csr"
expect "10 MB file" 2 "[file-too-large]" "huge.csr: larger than the limit"
run lint "$work/does-not-exist.csr"
expect "missing path" 2 "[file-unreadable]" "does-not-exist.csr: cannot open"
run lint "$work"
expect "directory" 2 "" "is a directory"
cp "$fixtures/good.csr" "$work/locked.csr"
chmod 000 "$work/locked.csr"
if [ -r "$work/locked.csr" ]; then
  ok "unreadable file (skipped: running as root, permissions do not apply)"
else
  run lint "$work/locked.csr"
  expect "unreadable file" 2 "" "locked.csr: cannot open: Permission denied"
fi
run lint "$fixtures/good.csr" "$work/does-not-exist.csr"
expect "good file next to a missing one still exits 2" 2 "good.csr: no findings" "does-not-exist.csr"
run lint --json "$work/does-not-exist.csr"
if [ "$code" -eq 2 ] && grep -qF '"rule":"file-unreadable"' "$work/out"; then
  ok "--json reports an unreadable file as a finding"
else
  bad "--json reports an unreadable file as a finding"
fi
run lint --profile public "$fixtures/good.csr"
expect "unknown profile is a usage error" 2
run lint
expect "no file is a usage error" 2

# --- inspect ---------------------------------------------------------------------------------------
run inspect "$root/tests/fixtures/lint/cdp-ldap.crt"
expect "inspect: LDAP CDP cannot be used" 0 "the client cannot use it: an LDAP URL"
run inspect "$root/tests/fixtures/lint/cdp-http.crt" --service https
expect "inspect: http CDP can be used" 0 "http, the client can fetch it"
run inspect "$root/tests/fixtures/identity/cn-and-dns.crt" --service https
expect "inspect: CN ignored when SANs exist" 0 "the CN is ignored because"
run inspect "$root/tests/fixtures/selfsigned/example.test.crt"
expect "inspect: self-signed is prompted" 0 "users are always prompted"
run inspect "$fixtures/good.csr" --service xmpp
expect "inspect: a CSR" 0 "certificate signing request"
run inspect --json "$root/tests/fixtures/revocation/good.crt"
if [ "$code" -eq 0 ] && python3 - "$work/out" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
assert report["kind"] == "certificate" and report["revocation_checkable"] is True, report
assert len(report["sha256"].split(":")) == 32 and len(report["sha1"].split(":")) == 20, report
assert report["identities"] == [{"type": "dNSName", "value": "good.revocation.example.test"}], report
EOF
then ok "inspect --json"; else bad "inspect --json"; fi
run inspect "$fixtures/truncated.csr"
expect "inspect: truncated CSR" 2 "" "truncated.csr:"
run inspect "$work/readme.txt"
expect "inspect: not a certificate" 2 "" "readme.txt: neither a certificate nor a certificate signing request"
run inspect "$work/huge.csr"
expect "inspect: 10 MB file" 2 "" "huge.csr: larger than the limit"
run inspect "$work/does-not-exist.crt"
expect "inspect: missing path" 2 "" "does-not-exist.crt: cannot open"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
