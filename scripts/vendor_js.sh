#!/bin/sh
# Copy the pinned bpmn-js viewer from node_modules/ into app/static/vendor/bpmn-js/, where the
# app serves it (no CDN). The copied files are committed, so the app runs on a machine without
# node; run this (`make vendor-js`) after changing the pin in package.json, then commit.
set -eu
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund --ignore-scripts
src=node_modules/bpmn-js
dest=app/static/vendor/bpmn-js
version=$(node -p "require('./$src/package.json').version")
pinned=$(node -p "require('./package.json').dependencies['bpmn-js']")
if [ "$version" != "$pinned" ]; then
  echo "node_modules has bpmn-js $version but package.json pins $pinned" >&2
  exit 1
fi
rm -rf "$dest"
mkdir -p "$dest"
cp "$src/dist/bpmn-navigated-viewer.production.min.js" "$src/dist/assets/diagram-js.css" \
  "$src/dist/assets/bpmn-js.css" "$src/LICENSE" "$dest/"
echo "$version" > "$dest/VERSION"
echo "bpmn-js $version copied to $dest"
