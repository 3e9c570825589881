#!/bin/sh
# Copy the JavaScript pinned in package.json from node_modules/ into app/static/vendor/, where
# the app serves it (no CDN): the bpmn-js viewer (instance pages) and Swagger UI (the API's
# docs at /api/v1/docs). The copied files are committed, so the app runs on a machine without
# node; run this (`make vendor-js`) after changing a pin in package.json, then commit.
set -eu
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund --ignore-scripts

# vendor PACKAGE DIR FILE... : copy the package's FILEs (paths inside it) and its LICENSE into
# app/static/vendor/DIR/, with a VERSION file, after checking that the installed version is
# the pinned one.
vendor() {
  package=$1
  src=node_modules/$package
  dest=app/static/vendor/$2
  shift 2
  version=$(node -p "require('./$src/package.json').version")
  pinned=$(node -p "require('./package.json').dependencies['$package']")
  if [ "$version" != "$pinned" ]; then
    echo "node_modules has $package $version but package.json pins $pinned" >&2
    exit 1
  fi
  rm -rf "$dest"
  mkdir -p "$dest"
  for file in "$@" LICENSE; do
    cp "$src/$file" "$dest/"
  done
  echo "$version" > "$dest/VERSION"
  echo "$package $version copied to $dest"
}

vendor bpmn-js bpmn-js dist/bpmn-navigated-viewer.production.min.js dist/assets/diagram-js.css \
  dist/assets/bpmn-js.css
# flask-smorest's Swagger UI page loads the bundle, the standalone preset and the CSS; the
# bundles name their third-party licences in *.LICENSE.txt, and Apache-2.0 asks for NOTICE.
vendor swagger-ui-dist swagger-ui swagger-ui-bundle.js swagger-ui-standalone-preset.js \
  swagger-ui.css swagger-ui-bundle.js.LICENSE.txt swagger-ui-standalone-preset.js.LICENSE.txt \
  NOTICE
