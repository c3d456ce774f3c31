#!/usr/bin/env bash
# Install the Debian packages whose commands are missing: `debian-packages.sh CMD:PACKAGE ...`.
# A no-op (no apt call at all) when every command is there; skips with a note off Debian.
set -euo pipefail
missing=()
for pair in "$@"; do
  cmd=${pair%%:*} package=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/bin/$cmd" ] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: note: install ${missing[*]} for the tests that use them (not root on Debian: skipped)" >&2
  exit 0
fi
echo "setup: installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
