#!/bin/sh
# Vendor jsQR from npm into services/live/web/vendor/jsqr/ (no CDN, no build step).
#
#   scripts/vendor-jsqr.sh            # the newest 1.x
#   scripts/vendor-jsqr.sh 1.4.0      # an exact version
#
# The pickup desk (js/desk.js) decodes QR codes from the camera with the browser's
# BarcodeDetector where it has one, else with jsQR: dist/jsQR.js (a UMD build: a classic
# <script> from the page's own origin defines window.jsQR, so the CSP stays script-src
# 'self'). Keeps the licence and a VERSION file naming the version and the tarball's
# integrity. Needs npm.
set -eu
spec="jsqr@${1:-1}"
repo=$(cd "$(dirname "$0")/.." && pwd)
dest="$repo/services/live/web/vendor/jsqr"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$work"
npm pack --silent "$spec" >/dev/null
tar -xzf jsqr-*.tgz
version=$(node -p "require('./package/package.json').version")
integrity=$(npm view "jsqr@$version" dist.integrity)

rm -rf "$dest"
mkdir -p "$dest"
cp package/dist/jsQR.js package/LICENSE "$dest/"
printf 'jsQR %s\nfrom npm: npm pack jsqr@%s (%s)\nfiles: dist/jsQR.js LICENSE (Apache-2.0)\nupdate: scripts/vendor-jsqr.sh [version] (or make vendor)\n' \
  "$version" "$version" "$integrity" >"$dest/VERSION"
echo "vendored jsQR $version into ${dest#"$repo"/}"
