#!/bin/sh
# Runtime stage of the Dockerfile: removes the package managers the Node base image ships (npm, npx, corepack,
# yarn) — the sidecar never installs anything at run time, so they are only attack surface and size — and
# checks that node itself still runs. RUNTIME_ROOT prefixes every path (default /), so tests run it on a copy.
#
# usage: scripts/docker/runtime.sh
set -eu
root=${RUNTIME_ROOT:-}

for path in \
  usr/local/lib/node_modules/npm usr/local/lib/node_modules/corepack \
  usr/local/bin/npm usr/local/bin/npx usr/local/bin/corepack usr/local/bin/yarn usr/local/bin/yarnpkg; do
  rm -rf "$root/$path"
done
for dir in "$root"/opt/yarn-*; do
  [ -e "$dir" ] && rm -rf "$dir"
done

if [ -z "$root" ]; then
  node --version >/dev/null
else
  [ -x "$root/usr/local/bin/node" ] || { echo "runtime.sh: node is missing under $root" >&2; exit 1; }
fi
echo "runtime.sh: package managers removed" >&2
