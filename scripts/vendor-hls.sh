#!/bin/sh
# Vendor hls.js from npm into services/live/web/vendor/hls.js/ (no CDN, no build step).
#
#   scripts/vendor-hls.sh            # the newest 1.x
#   scripts/vendor-hls.sh 1.7.4      # an exact version
#
# Keeps the ES module build (hls.min.mjs, imported by js/player.js only when the browser
# has no native HLS), its transmuxing worker (hls.worker.js, loaded through hls.js'
# workerPath, same origin, so the pages' CSP needs no blob: worker), the licence and a
# VERSION file naming the version and the tarball's integrity. Needs npm.
set -eu
spec="hls.js@${1:-1}"
repo=$(cd "$(dirname "$0")/.." && pwd)
dest="$repo/services/live/web/vendor/hls.js"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$work"
npm pack --silent "$spec" >/dev/null
tar -xzf hls.js-*.tgz
version=$(node -p "require('./package/package.json').version")
integrity=$(npm view "hls.js@$version" dist.integrity)

rm -rf "$dest"
mkdir -p "$dest"
cp package/dist/hls.min.mjs package/dist/hls.worker.js package/LICENSE "$dest/"
printf 'hls.js %s\nfrom npm: npm pack hls.js@%s (%s)\nfiles: dist/hls.min.mjs dist/hls.worker.js LICENSE (Apache-2.0)\nupdate: scripts/vendor-hls.sh [version] (or make vendor)\n' \
  "$version" "$version" "$integrity" >"$dest/VERSION"
echo "vendored hls.js $version into ${dest#"$repo"/}"
