#!/usr/bin/env bash
# Install (as root) or name (otherwise) the Debian packages homescope's commands need.
#   scripts/system-deps.sh          everything make test and make demo use
#   scripts/system-deps.sh python   only what creating the virtualenv needs
set -euo pipefail

need=()
have_cmd() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then need+=(python3-venv); fi
# protocol/_keys.c, collector/profiles/_window.c, collector/store/_plan.c and collector/privacy/_scrub.c: make installs them with HOMESCOPE_REQUIRE_C=1, so a missing compiler fails there.
have_cmd cc || need+=(gcc)
python3 -c 'import os, sysconfig; assert os.path.exists(sysconfig.get_paths()["include"] + "/Python.h")' \
  >/dev/null 2>&1 || need+=(python3-dev)
if [ "${1:-all}" != python ]; then
  have_cmd mosquitto || need+=(mosquitto)
  have_cmd chromium || need+=(chromium)
  have_cmd pdftoppm || need+=(poppler-utils)  # the report tests look at the PDF's pages as PNG
  have_cmd ip || need+=(iproute2)
  have_cmd nft || need+=(nftables)
  # tests/agent/test_powercut.py builds its LD_PRELOAD shim (powercut.c) with the C compiler.
  have_cmd cc || need+=(gcc libc6-dev)
  # PostgreSQL tests use the running server, or a throwaway cluster from these binaries.
  if ! have_cmd initdb && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then need+=(postgresql); fi
fi
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  echo "installing system packages: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian starts mosquitto as a service on 1883; homescope runs its own brokers on free ports.
else
  echo "homescope needs these system packages: ${need[*]}" >&2
  echo "install them with:  sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
