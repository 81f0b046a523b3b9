#!/usr/bin/env bash
# Builds the function for AWS Lambda's provided.al2023 runtime:
#
#   dist/bootstrap      the executable (Handler: bootstrap)
#   dist/function.zip   bootstrap at the root of a zip, for a deploy without sam build
#                       (sam build runs the Makefile's target, which runs this script)
#
# PRODUCER=librdkafka (the default) or PRODUCER=franz picks the producer the
# function sends with (see the README, "Choosing the producer").
#
# With librdkafka the function links it through cgo. A binary linked
# against this machine's glibc may need a newer glibc than Amazon Linux 2023
# has (2.34) and then fails at start with "GLIBC_2.xx not found". So it is
# built static against musl (confluent-kafka-go's bundled musl librdkafka,
# -tags musl), and checked: static, or else no GLIBC symbol newer than 2.34.
# The build fails if the check does.
#
# With franz (franz-go, pure Go) it is a plain CGO_ENABLED=0 go build with
# -tags franz: static by construction, for amd64 or arm64 from any machine,
# with no C compiler; the same checks run.
#
# For the other architecture than this machine's (GOARCH=arm64 on x86-64,
# for Graviton) with librdkafka, the C compiler is Debian's musl cross
# wrapper, aarch64-linux-musl-gcc (x86_64-linux-musl-gcc the other way),
# from musl-dev for that architecture and the GNU cross gcc it runs:
#
#   dpkg --add-architecture arm64 && apt-get update &&
#   apt-get install gcc-aarch64-linux-gnu musl-dev:arm64
#
# (Debian 12+, Ubuntu 22.04+; on Ubuntu, arm64 packages come from
# ports.ubuntu.com, see the README). When it is missing, this script
# installs it if it runs as root with apt-get, and says what to install
# otherwise. confluent-kafka-go bundles librdkafka built for musl on both
# architectures.
#
# Needs: Go, musl-gcc (Debian/Ubuntu: apt-get install musl-tools; installed
# here when missing and apt-get can run) or, for the other architecture,
# the cross wrapper above, readelf (binutils), zip or python3.
#
# Environment:
#   PRODUCER  librdkafka (default) or franz.
#   GOARCH  target architecture, amd64 (Lambda x86_64) or arm64 (Lambda
#           arm64); default: this machine's. Deploy with template.yaml's
#           Architecture to match (sam deploy --parameter-overrides
#           Architecture=arm64).
#   CC      C compiler (default musl-gcc, or the musl cross wrapper above
#           for the other architecture; unused with PRODUCER=franz).
#
# Paths are relative to this script's folder, so it works from anywhere and
# in a copy of the folder.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
here=$(pwd)
dist="$here/dist"
max_glibc="2.34"

die() { echo "build.sh: $*" >&2; exit 1; }

command -v go >/dev/null || die "go not found"
command -v readelf >/dev/null || die "readelf not found (binutils)"

host_arch=$(go env GOHOSTARCH)
arch=${GOARCH:-$host_arch}
case "$arch" in
amd64) lambda_arch=x86_64 elf_machine="X86-64" ;;
arm64) lambda_arch=arm64 elf_machine="AArch64" ;;
*) die "GOARCH=$arch: Lambda runs amd64 (x86_64) or arm64" ;;
esac

producer=${PRODUCER:-librdkafka}
case "$producer" in
librdkafka | franz) ;;
*) die "PRODUCER=$producer: want librdkafka or franz" ;;
esac

# can_install: this runs as root with apt-get.
can_install() { command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; }

# install_or_die PACKAGE... installs Debian packages with apt-get (trying
# without an update first) or fails; a foreign-architecture package
# (name:arch) has its architecture added to dpkg first, and removed again
# if the install fails.
install_or_die() {
	local added="" pkg
	for pkg in "$@"; do
		case "$pkg" in
		*:*)
			local a=${pkg##*:}
			if [ "$(dpkg --print-architecture)" != "$a" ] && ! dpkg --print-foreign-architectures | grep -qx "$a"; then
				echo "== dpkg --add-architecture $a"
				dpkg --add-architecture "$a"
				added="$added $a"
			fi
			;;
		esac
	done
	echo "== installing $*"
	if [ -n "$added" ] || ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1; then
		if ! { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null; }; then
			for a in $added; do dpkg --remove-architecture "$a" || true; done
			die "could not install $*${added:+ (apt has no$added packages: on Ubuntu they come from ports.ubuntu.com, see the README, \"Graviton\")}"
		fi
	fi
}

if [ "$producer" = franz ]; then
	:
elif [ -z "${CC:-}" ] && [ "$arch" = "$host_arch" ]; then
	CC=musl-gcc
	if ! command -v musl-gcc >/dev/null; then
		can_install ||
			die "musl-gcc not found: install musl-tools (Debian/Ubuntu) or musl (Alpine, Fedora), or set CC"
		install_or_die musl-tools
	fi
elif [ -z "${CC:-}" ]; then
	# Debian's musl-dev:<arch> ships <triple>-linux-musl-gcc, a musl-gcc
	# for that architecture that runs the GNU cross gcc with musl's specs.
	case "$arch" in
	arm64) triple=aarch64 gcc_pkg=gcc-aarch64-linux-gnu ;;
	amd64) triple=x86_64 gcc_pkg=gcc-x86-64-linux-gnu ;;
	esac
	CC=$triple-linux-musl-gcc
	if ! command -v "$CC" >/dev/null || ! command -v "$triple-linux-gnu-gcc" >/dev/null; then
		can_install || die "building for $arch on $host_arch with librdkafka needs a musl cross compiler for $arch, $CC:" \
			"on Debian/Ubuntu, as root: dpkg --add-architecture $arch && apt-get update && apt-get install $gcc_pkg musl-dev:$arch;" \
			"or set CC to another one; or build with PRODUCER=franz (pure Go, no C compiler)"
		install_or_die "$gcc_pkg" "musl-dev:$arch"
		command -v "$CC" >/dev/null || die "$CC not found after installing musl-dev:$arch (it has it from Debian 12 and Ubuntu 22.04 on): set CC to a musl cross compiler for $arch"
	fi
fi
rm -rf "$dist"
mkdir -p "$dist"
# -tags lambda.norpc: aws-lambda-go without the go1.x RPC mode, which
# provided.al2023 does not use. -tags serde.noglue: serde without the AWS
# SDK's Glue client (the function reads its schemas from a Confluent
# registry): ~1 MiB less, and no Glue package initialisation at each
# cold start (serde's package doc, "Binary size").
if [ "$producer" = franz ]; then
	echo "== go build ($arch, Lambda $lambda_arch, producer franz-go, pure Go)"
	CGO_ENABLED=0 GOOS=linux GOARCH="$arch" \
		go build -trimpath -buildvcs=false -tags franz,lambda.norpc,serde.noglue -ldflags '-s -w' \
		-o "$dist/bootstrap" .
else
	command -v "${CC%% *}" >/dev/null || die "CC=$CC not found"
	echo "== go build ($arch, Lambda $lambda_arch, producer librdkafka, CC=$CC, static musl)"
	# -tags musl: confluent-kafka-go's librdkafka built for musl.
	CGO_ENABLED=1 GOOS=linux GOARCH="$arch" CC="$CC" \
		go build -trimpath -buildvcs=false -tags musl,lambda.norpc,serde.noglue \
		-ldflags '-s -w -linkmode external -extldflags "-static"' \
		-o "$dist/bootstrap" .
fi

echo "== checking dist/bootstrap runs on Amazon Linux 2023 (glibc $max_glibc)"
bin="$dist/bootstrap"
readelf -h "$bin" | grep -q "Machine:.*$elf_machine" ||
	die "dist/bootstrap is not a $elf_machine executable: $(readelf -h "$bin" | grep Machine:)"
command -v file >/dev/null && file "$bin" | sed "s|$here/||"
if readelf -l "$bin" | grep -q "Requesting program interpreter" || readelf -d "$bin" | grep -q "(NEEDED)"; then
	echo "dynamically linked:"
	readelf -d "$bin" | grep "(NEEDED)" || true
	newest=$(readelf --version-info --wide "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)
	[ -n "$newest" ] || die "dynamically linked, and no GLIBC symbol versions to check"
	echo "newest GLIBC symbol version: $newest"
	[ "$(printf '%s\n%s\n' "$newest" "$max_glibc" | sort -V | tail -n 1)" = "$max_glibc" ] ||
		die "dist/bootstrap needs GLIBC_$newest, newer than Amazon Linux 2023's $max_glibc"
else
	echo "static: no program interpreter, no NEEDED libraries, no GLIBC symbol versions"
	if readelf --version-info --wide "$bin" | grep -q 'GLIBC_'; then
		die "static binary with GLIBC symbol versions"
	fi
fi

echo "== zip"
chmod 0755 "$bin"
if command -v zip >/dev/null; then
	(cd "$dist" && zip -q -X function.zip bootstrap)
elif command -v python3 >/dev/null; then
	python3 - "$dist" <<'PY'
import sys, zipfile, os
d = sys.argv[1]
info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
info.external_attr = (0o100755 << 16)
info.compress_type = zipfile.ZIP_DEFLATED
with open(os.path.join(d, "bootstrap"), "rb") as f, zipfile.ZipFile(os.path.join(d, "function.zip"), "w") as z:
    z.writestr(info, f.read())
PY
else
	die "neither zip nor python3 found to make dist/function.zip"
fi

ls -l "$dist" | sed "s|$here/||"
echo "built dist/bootstrap ($(du -h "$bin" | cut -f1), $lambda_arch, producer $producer) and dist/function.zip ($(du -h "$dist/function.zip" | cut -f1))"
