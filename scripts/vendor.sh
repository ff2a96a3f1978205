#!/usr/bin/env bash
# Refresh the third-party browser libraries in static/vendor/ from the npm registry.
# Each library is copied with its licence file; versions are pinned here.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() {  # fetch NAME VERSION DEST FILE...
  local name=$1 version=$2 dest=static/vendor/$3
  shift 3
  (cd "$work" && npm pack --silent "$name@$version" >/dev/null)
  local tarball
  tarball=$(ls "$work"/*.tgz)
  mkdir -p "$work/x" "$dest"
  tar -xzf "$tarball" -C "$work/x"
  for file in "$@"; do cp "$work/x/package/$file" "$dest/"; done
  cp "$work/x/package/"LICENSE* "$dest/" 2>/dev/null || cp "$work/x/package/"license* "$dest/"
  echo "$name@$version" > "$dest/VERSION"
  rm -rf "$work/x" "$tarball"
}

fetch jsqr 1.4.0 jsqr dist/jsQR.js
fetch uplot 1.6.32 uplot dist/uPlot.esm.js dist/uPlot.min.css
fetch hls.js 1.7.4 hls dist/hls.min.js
