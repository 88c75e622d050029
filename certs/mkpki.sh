#!/bin/sh
# Make the throwaway test PKI in OUTDIR (default: ./pki).  Nothing made here
# is ever committed; the tests run this at test time.
#
#   ca.pem/ca.key             root CA (the trust file)
#   int.pem/int.key           intermediate CA, signed by the root
#   server.pem/server.key     localhost, 127.0.0.1, ::1; chain includes int
#   client.pem/client.key     client certificate (clientAuth); chain with int
#   expired.pem/expired.key   right names, validity ended in 2020
#   future.pem/future.key     right names, validity starts in 2099
#   wrongname.pem/.key        valid chain, but only for wrong.example
#   untrusted.pem/.key        right names, issued by a CA nobody trusts
#   rsa.pem/rsa.key, ed25519.pem/ed25519.key   other key types (client use)
#   nosan.pem/nosan.key       CN=localhost, but no subjectAltName
#   caleaf.pem/caleaf.key     a server certificate with CA:TRUE
#   rsaserver.pem/.key        server certificate with an RSA key
#   leafonly.pem              server.pem's certificate without the chain
#   sni.pem/sni.key           a second server name: other.example and
#                             *.wild.example (a listener picks it by SNI)
#   otherclient.pem/.key      a client certificate from the untrusted CA
set -eu

out=${1:-pki}
mkdir -p "$out"
cd "$out"

# Quiet unless something fails.
run() {
	if ! "$@" >mkpki.log 2>&1; then
		cat mkpki.log >&2
		echo "mkpki: failed: $*" >&2
		exit 1
	fi
}

newkey() {	# newkey FILE [TYPE]
	case ${2:-ec} in
	ec)	run openssl genpkey -algorithm EC \
		    -pkeyopt ec_paramgen_curve:P-256 -out "$1" ;;
	rsa)	run openssl genpkey -algorithm RSA \
		    -pkeyopt rsa_keygen_bits:2048 -out "$1" ;;
	ed25519) run openssl genpkey -algorithm ED25519 -out "$1" ;;
	esac
}

# A minimal "openssl ca" set-up per issuing CA, so that dates can be set.
cadir() {	# cadir NAME
	mkdir -p "$1.db"
	: > "$1.db/index.txt"
	[ -f "$1.db/serial" ] || echo 1000 > "$1.db/serial"
	cat > "$1.db/ca.cnf" <<CNF
[ ca ]
default_ca = this
[ this ]
dir = $1.db
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[ anything ]
commonName = supplied
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
CNF
}

# issue ISSUER NAME CN EXTENSIONS [START END]
issue() {
	issuer=$1 name=$2 cn=$3 ext=$4
	start=${5:-} end=${6:-}
	printf '%s\n' "[ ext ]" "$ext" > "$name.ext"
	run openssl req -new -key "$name.key" -subj "/CN=$cn" -out "$name.csr"
	if [ -n "$start" ]; then
		dates="-startdate $start -enddate $end"
	else
		dates="-days 30"
	fi
	# shellcheck disable=SC2086
	run openssl ca -batch -notext -config "$issuer.db/ca.cnf" \
	    -cert "$issuer.pem" -keyfile "$issuer.key" $dates \
	    -extfile "$name.ext" -extensions ext -in "$name.csr" -out "$name.crt"
	rm -f "$name.csr" "$name.ext"
}

ca_ext='basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash'
leaf_names='subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1'
server_ext="basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
$leaf_names"
client_ext='basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth'

# Root.
newkey ca.key
run openssl req -x509 -new -key ca.key -subj "/CN=tlsnc test root CA" \
    -days 60 -sha256 -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem
cadir ca

# Intermediate.
newkey int.key
issue ca int "tlsnc test intermediate CA" "$ca_ext
basicConstraints = critical, CA:TRUE, pathlen:0"
mv int.crt int.pem
cadir int

leaf() {	# leaf NAME CN EXT [START END] [KEYTYPE]
	newkey "$1.key" "${6:-ec}"
	issue int "$1" "$2" "$3" "${4:-}" "${5:-}"
	cat "$1.crt" int.pem > "$1.pem"
	rm -f "$1.crt"
}

leaf server localhost "$server_ext"
leaf client "tlsnc test client" "$client_ext"
leaf expired localhost "$server_ext" 20200101000000Z 20200201000000Z
leaf future localhost "$server_ext" 20990101000000Z 20990201000000Z
leaf wrongname wrong.example "basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example"
leaf rsa "tlsnc test rsa client" "$client_ext" "" "" rsa
leaf nosan localhost "basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth"
leaf caleaf localhost "basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, keyCertSign
extendedKeyUsage = serverAuth
$leaf_names"
leaf rsaserver localhost "$server_ext" "" "" rsa
run openssl x509 -in server.pem -out leafonly.pem
leaf ed25519 "tlsnc test ed25519 client" "$client_ext" "" "" ed25519
leaf sni other.example "basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.example, DNS:*.wild.example"

# A CA that nobody trusts, and a server certificate from it (leaf only).
newkey other-ca.key
run openssl req -x509 -new -key other-ca.key -subj "/CN=untrusted CA" \
    -days 60 -sha256 -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out other-ca.pem
cadir other-ca
newkey untrusted.key
issue other-ca untrusted localhost "$server_ext"
mv untrusted.crt untrusted.pem
newkey otherclient.key
issue other-ca otherclient "tlsnc test untrusted client" "$client_ext"
mv otherclient.crt otherclient.pem

rm -rf ./*.db mkpki.log
chmod 600 ./*.key
