#!/usr/bin/env bash
# Make sure the Debian packages the tests (or benchmarks) need are installed: Chromium for the
# browser tests (and libatomic1 for Playwright's driver), ffmpeg for the camera and stream fixtures,
# Node.js for the front end's pure modules, CJK fonts for screenshots, wrk for load, PostgreSQL's client
# tools (pg_dump, pg_restore) for backups of a PostgreSQL database, nginx (and openssl for its test
# certificate) in front of several servers.
# Installs them with apt-get when it can (root, or sudo without a password); otherwise names them.
# Usage: scripts/system-deps.sh test|bench
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have chromium || need+=(chromium)
# Playwright's own Node.js (the driver that talks to Chromium) needs libatomic, which minimal Debian lacks.
compgen -G "/usr/lib/*/libatomic.so.1" >/dev/null || compgen -G "/lib/*/libatomic.so.1" >/dev/null || need+=(libatomic1)
have ffmpeg || need+=(ffmpeg)
have node || need+=(nodejs)
have pg_dump || need+=(postgresql-client)
fc-list 2>/dev/null | grep -qi "noto sans cjk" || need+=(fonts-noto-cjk)
# nginx is in /usr/sbin, outside a user's PATH on Debian.
have nginx || [ -x /usr/sbin/nginx ] || need+=(nginx)
have openssl || need+=(openssl)
if [ "${1:-test}" = bench ]; then
  have wrk || need+=(wrk)
fi
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif have sudo && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "These Debian packages are needed and could not be installed (not root, no sudo):" >&2
  echo "  apt-get install ${need[*]}" >&2
  exit 1
fi
if ! have apt-get; then
  echo "This machine has no apt-get; install these packages (Debian names): ${need[*]}" >&2
  exit 1
fi
echo "installing ${need[*]} (apt-get) ..."
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
