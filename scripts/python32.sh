#!/usr/bin/env bash
# A real 32-bit CPython 3.11 for measuring the agent's footprint as a 32-bit gateway sees it.
#
# Debian's i386 packages are fetched with `apt-get download` (the Debian mirror only, through
# apt's own state kept under the target folder, so the machine's apt configuration and dpkg
# architectures are left alone) and unpacked with `dpkg -x`; nothing is installed system-wide.
# The result runs as `<dir>/python3` (a wrapper that calls the i386 loader with the unpacked
# libraries). The standard library is byte-compiled once, as OpenWrt ships it (.pyc): an interpreter
# that compiles each module from source at import holds the compiler's garbage in its heap, which
# would inflate the RSS the bench measures. Idempotent: a finished folder is reused.
#
#     bash scripts/python32.sh [DIR]     # default .python32; prints the wrapper's path
set -euo pipefail

DIR=$(realpath -m "${1:-.python32}")
compile_stdlib() {
    # errors are the stdlib's own test data (files with bad syntax on purpose): ignored
    env -u PYTHONDONTWRITEBYTECODE "$DIR/python3" -m compileall -q -j0 \
        "$DIR/root/usr/lib/python3.11" "$DIR/root/usr/lib/python3/dist-packages" >/dev/null 2>&1 || true
    touch "$DIR/.compiled"
}

if [[ -x "$DIR/python3" ]] && "$DIR/python3" -c 'import ssl, sqlite3, zlib, msgpack' 2>/dev/null; then
    [[ -e "$DIR/.compiled" ]] || compile_stdlib
    echo "$DIR/python3"
    exit 0
fi

# Only what the agent's import set loads: the interpreter, its stdlib, and the shared libraries
# of the extension modules it imports (ssl, hashlib, sqlite3, zlib, uuid, ctypes, lzma/bz2 via
# shutil), plus Debian's C msgpack for CPython 3.11.
PACKAGES=(
    libc6 libgcc-s1 zlib1g libssl3 libffi8 libsqlite3-0 libexpat1 libbz2-1.0 liblzma5 libuuid1
    libcrypt1 libpython3.11-minimal libpython3.11-stdlib python3.11-minimal python3-msgpack
)

APT="$DIR/apt"
mkdir -p "$APT/state/lists/partial" "$APT/cache/archives/partial" "$APT/debs" "$DIR/root"
touch "$APT/status"
OPTS=(
    -o "Dir::State=$APT/state" -o "Dir::State::status=$APT/status" -o "Dir::Cache=$APT/cache"
    -o "APT::Architecture=i386" -o "APT::Architectures::=i386" -o "Debug::NoLocking=1"
)
apt-get "${OPTS[@]}" -qq update >&2
(cd "$APT/debs" && apt-get "${OPTS[@]}" -qq download "${PACKAGES[@]/%/:i386}" >&2)
for deb in "$APT/debs"/*.deb; do
    dpkg -x "$deb" "$DIR/root"
done

ROOT="$DIR/root"
cat >"$DIR/python3" <<EOF
#!/bin/sh
# i386 CPython from Debian's packages, unpacked by scripts/python32.sh
PYTHONHOME="$ROOT/usr" exec "$ROOT/lib/ld-linux.so.2" \\
    --library-path "$ROOT/lib/i386-linux-gnu:$ROOT/usr/lib/i386-linux-gnu" \\
    "$ROOT/usr/bin/python3.11" "\$@"
EOF
chmod +x "$DIR/python3"
"$DIR/python3" -c 'import ssl, sqlite3, zlib, msgpack, struct; assert struct.calcsize("P") == 4' >&2
compile_stdlib
echo "$DIR/python3"
