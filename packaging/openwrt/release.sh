#!/bin/sh
# release.sh [REF] [OUTDIR]: the source tarball the feed package builds from (PKG_SOURCE), and its PKG_HASH.
#
# `git archive` of REF (default HEAD): agent/, protocol/ and LICENSE under homescope-agent-<version>/, where
# <version> is PKG_VERSION of homescope-agent/Makefile at REF. The same REF always gives the same bytes
# (git archive stamps the commit time; gzip -n leaves out name and time). Upload it as a release asset
# at PKG_SOURCE_URL and put the printed hash in PKG_HASH.
set -eu
ref=${1:-HEAD}
out=${2:-dist}
top=$(git rev-parse --show-toplevel)
version=$(git -C "$top" show "$ref:packaging/openwrt/homescope-agent/Makefile" | sed -n 's/^PKG_VERSION:=//p')
[ -n "$version" ] || { echo "release.sh: no PKG_VERSION in $ref:packaging/openwrt/homescope-agent/Makefile" >&2; exit 1; }
mkdir -p "$out"
tarball="$out/homescope-agent-$version.tar.gz"
git -C "$top" archive --format=tar --prefix="homescope-agent-$version/" "$ref" agent protocol LICENSE | gzip -9 -n > "$tarball"
echo "$tarball"
echo "PKG_HASH:=$(sha256sum "$tarball" | cut -d' ' -f1)"
