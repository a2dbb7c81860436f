#!/bin/sh
# Build-stage steps of the Dockerfile, runnable without Docker (test/unit/docker runs them in a temporary copy
# of the project). Run from anywhere; each step works in the project folder that holds this script.
#
#   deps     npm ci with dev dependencies (the compiler needs them), then `caps`
#   caps     build/docker/capabilities.json: what the policy is compiled against (the wasm runtime's
#            builtins plus the rego_v1 feature; scripts/policy-toolchain.mjs writeCapabilities), and
#            capabilities.test.json, the same with print, for the policy stage's opa check
#   compile  npm run build → dist/src/main.js
#   prune    npm prune --omit=dev, then fail if any dev-only package is left
#
# usage: scripts/docker/build.sh STEP...
set -eu
cd "$(dirname "$0")/../.."

say() { printf 'build.sh: %s\n' "$*" >&2; }

step_deps() {
  # --ignore-scripts: no runtime dependency needs an install script, and none may run at build time.
  npm ci --no-audit --no-fund --ignore-scripts
  step_caps
}

step_caps() {
  node scripts/docker/capabilities.mjs build/docker
}

step_compile() {
  npm run build
  if [ ! -f dist/src/main.js ]; then
    say "dist/src/main.js was not built"
    exit 1
  fi
}

step_prune() {
  npm prune --omit=dev --no-audit --no-fund --ignore-scripts
  node -e '
    const fs = require("node:fs");
    const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
    const left = Object.entries(lock.packages)
      .filter(([path, meta]) => path && meta.dev && fs.existsSync(path))
      .map(([path]) => path.replace(/^node_modules\//, ""));
    if (left.length > 0) {
      console.error("build.sh: dev dependencies left after prune: " + left.join(", "));
      process.exit(1);
    }
  '
}

[ "$#" -gt 0 ] || { say "usage: scripts/docker/build.sh deps|caps|compile|prune..."; exit 2; }
for step in "$@"; do
  case "$step" in
    deps | caps | compile | prune) say "$step"; "step_$step" ;;
    *) say "unknown step $step (want deps, caps, compile or prune)"; exit 2 ;;
  esac
done
