#!/usr/bin/env bash
# Refresh the third-party browser libraries from the npm registry, and check them: static/vendor/ holds what
# the product serves, tests/vendor/ what only the tests inject into pages (axe-core). Each library is copied
# with its licence file; versions are pinned here. Each folder's SHA256SUMS records the SHA-256 of every
# file in it, so a changed file (a tampered or republished package, or an edit by hand) is noticed:
#   scripts/vendor.sh           fetch every library, then verify the copies against SHA256SUMS
#   scripts/vendor.sh --check   verify only (no network): what the tests run
#   scripts/vendor.sh --record  fetch, then rewrite SHA256SUMS (after raising a version, once the diff is reviewed)
# To add a library, add one `fetch` line below (under the folder it belongs in) and run --record.
set -euo pipefail
cd "$(dirname "$0")/.."
FOLDERS=(static/vendor tests/vendor)
SUMS=SHA256SUMS

libraries() {
  # fetch NAME VERSION DEST FILE...   (FILE is a path in the package, or SOURCE=TARGET to place it in DEST)
  VENDOR=static/vendor
  fetch zxing-wasm 3.1.4 zxing-wasm \
    dist/es/reader/index.js=reader/index.js dist/es/share.js=share.js \
    dist/reader/zxing_reader.wasm=zxing_reader.wasm
  fetch uplot 1.6.32 uplot dist/uPlot.esm.js dist/uPlot.min.css
  fetch hls.js 1.7.4 hls dist/hls.min.js
  # Test-only: the accessibility checker the browser tests run on every page (never served by the product).
  VENDOR=tests/vendor
  fetch axe-core 4.14.1 axe-core axe.min.js
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

# Every vendored file of one folder, as sha256sum lists it (paths relative to that folder, sorted).
sums() {
  (cd "$1" && find . -type f ! -name "$SUMS" | sed 's|^\./||' | LC_ALL=C sort | xargs -d '\n' sha256sum)
}

# The copies must be exactly the recorded files: none changed, none missing, none extra, in every folder.
check() {
  local folder failed=0
  for folder in "${FOLDERS[@]}"; do
    if ! diff <(cat "$folder/$SUMS") <(sums "$folder") >&2; then
      echo "$folder does not match $folder/$SUMS (lines marked > are the files as they are now)" >&2
      failed=1
    else
      echo "$folder: $(wc -l < "$folder/$SUMS") files match $SUMS"
    fi
  done
  return "$failed"
}

record() {
  local folder
  for folder in "${FOLDERS[@]}"; do sums "$folder" > "$folder/$SUMS"; done
}

case ${1:-} in
  --check) check || exit 1 ;;
  --record | "")
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    libraries
    if [[ ${1:-} == --record ]]; then record; fi
    check || exit 1
    ;;
  *) echo "usage: $0 [--check | --record]" >&2; exit 2 ;;
esac
