#!/usr/bin/env bash
# Refresh the third-party browser libraries in static/vendor/ from the npm registry, and check them.
# Each library is copied with its licence file; versions are pinned here. static/vendor/SHA256SUMS
# records the SHA-256 of every vendored file, so a changed file (a tampered or republished package, or
# an edit by hand) is noticed:
#   scripts/vendor.sh           fetch every library, then verify the copies against SHA256SUMS
#   scripts/vendor.sh --check   verify only (no network): what the tests run
#   scripts/vendor.sh --record  fetch, then rewrite SHA256SUMS (after raising a version, once the diff is reviewed)
# To add a library, add one `fetch` line below and run --record.
set -euo pipefail
cd "$(dirname "$0")/.."
VENDOR=static/vendor
SUMS=SHA256SUMS

libraries() {
  # fetch NAME VERSION DEST FILE...   (FILE is a path in the package, or SOURCE=TARGET to place it in DEST)
  fetch zxing-wasm 3.1.4 zxing-wasm \
    dist/es/reader/index.js=reader/index.js dist/es/share.js=share.js \
    dist/reader/zxing_reader.wasm=zxing_reader.wasm
  fetch uplot 1.6.32 uplot dist/uPlot.esm.js dist/uPlot.min.css
  fetch hls.js 1.7.4 hls dist/hls.min.js
}

fetch() {
  local name=$1 version=$2 dest=$VENDOR/$3
  shift 3
  (cd "$work" && npm pack --silent "$name@$version" >/dev/null)
  local tarball
  tarball=$(ls "$work"/*.tgz)
  mkdir -p "$work/x"
  tar -xzf "$tarball" -C "$work/x"
  rm -rf "$dest"
  mkdir -p "$dest"
  for file in "$@"; do
    local source=${file%%=*} target=${file#*=}
    [[ $file == *=* ]] || target=$(basename "$file")
    mkdir -p "$dest/$(dirname "$target")"
    cp "$work/x/package/$source" "$dest/$target"
  done
  cp "$work/x/package/"LICENSE* "$dest/" 2>/dev/null || cp "$work/x/package/"license* "$dest/"
  echo "$name@$version" > "$dest/VERSION"
  rm -rf "$work/x" "$tarball"
}

# Every vendored file, as sha256sum lists it (paths relative to static/vendor, sorted).
sums() {
  (cd "$VENDOR" && find . -type f ! -name "$SUMS" | sed 's|^\./||' | LC_ALL=C sort | xargs -d '\n' sha256sum)
}

# The copies must be exactly the recorded files: none changed, none missing, none extra.
check() {
  if ! diff <(cat "$VENDOR/$SUMS") <(sums) >&2; then
    echo "static/vendor does not match $VENDOR/$SUMS (lines marked > are the files as they are now)" >&2
    exit 1
  fi
  echo "static/vendor: $(wc -l < "$VENDOR/$SUMS") files match $SUMS"
}

case ${1:-} in
  --check) check ;;
  --record | "")
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    libraries
    if [[ ${1:-} == --record ]]; then sums > "$VENDOR/$SUMS"; fi
    check
    ;;
  *) echo "usage: $0 [--check | --record]" >&2; exit 2 ;;
esac
