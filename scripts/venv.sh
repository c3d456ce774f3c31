#!/usr/bin/env bash
# Create the virtualenv `make` installs the project into, with pip: `venv.sh PYTHON DIR`.
# Debian and Ubuntu ship python3 without its venv module (ensurepip is in python3.X-venv):
# as root it is installed here, otherwise one line names the package to install. A venv
# without pip (what a failed `python3 -m venv` leaves behind) is made again.
set -euo pipefail
. "$(dirname "$0")/setup-lib.sh"
PY=${1:-python3} VENV=${2:-.venv}

"$VENV/bin/python" -m pip --version >/dev/null 2>&1 && exit 0

if ! command -v "$PY" >/dev/null 2>&1; then
  is_debian_root || die "$PY is missing: install Python 3.11 or later (Debian/Ubuntu, as root: apt-get install python3 python3-venv), then run make again"
  apt_install python3 python3-venv
fi
version=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "$PY is Python $version; the runner needs 3.11 or later: run make PY=python3.11 (or newer)"
if ! "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  package="python$version-venv"
  command -v apt-get >/dev/null 2>&1 \
    || die "$PY has no venv module (ensurepip): install it for Python $version, then run make again"
  [ "$(id -u)" = 0 ] \
    || die "$PY has no venv module: 'apt-get install $package' needs root (sudo apt-get install $package), then run make again"
  apt_install "$package"
fi
if [ -e "$VENV" ]; then
  [ -f "$VENV/pyvenv.cfg" ] || die "$VENV exists and is not a virtualenv: move it away, then run make again"
  rm -rf "$VENV"
fi
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip --version >/dev/null || die "$VENV was created without pip"
