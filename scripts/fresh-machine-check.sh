#!/usr/bin/env bash
# The README's two commands on a machine where nothing else is installed: a fresh Debian root made
# with debootstrap (minbase, plus python3, venv, make and git), a clone of this repository in it,
# then `make run` must serve the demo and `make test` must pass. Run by hand as root (it takes
# 15-30 minutes); the last result is written to docs/FRESH_MACHINE.md.
#   scripts/fresh-machine-check.sh [ROOT_DIR]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
root=${1:-/var/tmp/checkin-fresh-root}
suite=${SUITE:-bookworm}
mirror=${MIRROR:-http://deb.debian.org/debian}
log=$(mktemp)
[ "$(id -u)" -eq 0 ] || { echo "run as root (debootstrap and chroot need it)" >&2; exit 1; }
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap

stop_root_processes() {  # every process running inside the fresh root, and nothing else
  for proc in /proc/[0-9]*; do
    [ "$(readlink -f "$proc/root" 2>/dev/null)" = "$root" ] && kill "${proc#/proc/}" 2>/dev/null || true
  done
}
cleanup() {
  stop_root_processes
  for mount in dev/shm dev/pts dev proc sys; do umount -l "$root/$mount" 2>/dev/null || true; done
}
trap cleanup EXIT

started=$(date -u +%Y-%m-%dT%H:%MZ)
rm -rf "$root"
debootstrap --variant=minbase --include=python3,python3-venv,make,git,ca-certificates "$suite" "$root" "$mirror" \
  >"$log" 2>&1 || { tail -20 "$log"; exit 1; }
cp /etc/resolv.conf "$root/etc/resolv.conf"
# The network's own settings, not the project's: a machine on a network that inspects TLS trusts its
# certificate authority, and pip there is told where that trust lives.
if [ -n "$(ls /usr/local/share/ca-certificates 2>/dev/null)" ]; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null 2>&1 || cat /usr/local/share/ca-certificates/*.crt >>"$root/etc/ssl/certs/ca-certificates.crt"
fi
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$root/etc/pip.conf"
mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mount -t tmpfs shm "$root/dev/shm"

git clone -q "$repo" "$root/root/checkin"
commit=$(git -C "$repo" rev-parse --short HEAD)
in_root() { chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  LANG=C.UTF-8 bash -c "cd /root/checkin && $1"; }

# 1. make run: the demo answers on its port within two minutes.
in_root "make run >/root/run.log 2>&1 &"
served=no
for _ in $(seq 1 120); do
  if in_root "python3 -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)\"" 2>/dev/null; then
    served=yes
    break
  fi
  sleep 1
done
stop_root_processes
sleep 2

# 2. make test: installs what it needs (apt-get as root in the chroot), then lint, types, tests.
tested=no
if in_root "make test" >"$log" 2>&1; then tested=yes; fi
summary=$(grep -E "passed|failed" "$log" | tail -1)

cat >"$repo/docs/FRESH_MACHINE.md" <<EOF
# A fresh machine

\`scripts/fresh-machine-check.sh\` builds a Debian root with nothing but \`debootstrap --variant=minbase\`
plus python3, python3-venv, make, git and ca-certificates, clones the repository into it and runs the
README's two commands there as root. Last run:

| | |
| --- | --- |
| date | $started |
| commit | $commit |
| Debian | $suite (debootstrap minbase) |
| \`make run\` serves the demo (\`/healthz\` answers) | $served |
| \`make test\` passes | $tested |
| test summary | ${summary:-(none)} |
EOF
echo "make run: $served; make test: $tested; $summary"
[ "$served" = yes ] && [ "$tested" = yes ]
