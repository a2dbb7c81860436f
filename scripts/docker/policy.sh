#!/bin/sh
# Policy stage of the Dockerfile: compiles the Rego policy folder into the default bundle with `opa build -t wasm`,
# as `npm run policy:build` does (scripts/policy-toolchain.mjs): both entrypoints, the wasm runtime's
# capabilities, Rego tests left out, paths relative to the policy folder, and the same content-hash revision
# unless POLICY_REVISION is set. POSIX sh (the OPA image's busybox); OPA_BIN names the opa executable
# (default: opa on PATH; the official image has /opa), so tests can stand the project's compiler in for it.
#
# With INPUT_SCHEMA (the image passes schema/policy-input.json), the Rego is first type-checked against the
# policy input's JSON Schema with `opa check --schema`, as `npm run policy:build` does: a misspelt input field
# fails the image build instead of being undefined on every request. CHECK_CAPABILITIES_JSON is what the check
# compiles against: the build's capabilities with print (opa check compiles print() calls; opa build drops them).
#
# usage: scripts/docker/policy.sh POLICY_DIR CAPABILITIES_JSON OUT_TAR_GZ [INPUT_SCHEMA CHECK_CAPABILITIES_JSON]
set -eu

usage="usage: policy.sh POLICY_DIR CAPABILITIES_JSON OUT_TAR_GZ [INPUT_SCHEMA CHECK_CAPABILITIES_JSON]"
[ "$#" -eq 3 ] || [ "$#" -eq 5 ] || { echo "$usage" >&2; exit 2; }
abs() { case "$1" in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$(pwd)" "$1" ;; esac; }
src=$(abs "$1")
caps=$(abs "$2")
out=$(abs "$3")
opa=${OPA_BIN:-opa}
schema=""
if [ "$#" -eq 5 ]; then
  schema=$(abs "$4")
  check_caps=$(abs "$5")
  [ -f "$schema" ] || { echo "policy.sh: input schema $4 does not exist" >&2; exit 1; }
  [ -f "$check_caps" ] || { echo "policy.sh: capabilities file $5 does not exist" >&2; exit 1; }
fi

[ -d "$src" ] || { echo "policy.sh: policy folder $1 does not exist" >&2; exit 1; }
[ -f "$caps" ] || { echo "policy.sh: capabilities file $2 does not exist" >&2; exit 1; }

# The default revision: the first 12 hex digits of sha256 over "path NUL content NUL" of every bundle source
# (.rego/.json/.yaml/.yml, not *_test.rego, outside hidden folders and node_modules) in sorted path order —
# computeRevision() in scripts/policy-toolchain.mjs, so the image and `npm run policy:build` agree.
revision() {
  (
    cd "$src"
    find . \( -type d \( -name '.?*' -o -name node_modules \) -prune \) -o -type f \
      \( -name '*.rego' -o -name '*.json' -o -name '*.yaml' -o -name '*.yml' \) ! -name '*_test.rego' -print |
      sed 's|^\./||' | LC_ALL=C sort |
      while IFS= read -r f; do
        printf '%s\000' "$f"
        cat "$f"
        printf '\000'
      done
  ) | sha256sum | cut -c1-12
}
rev=${POLICY_REVISION:-$(revision)}

mkdir -p "$(dirname "$out")"
rm -f "$out"
cd "$src"
if [ -n "$schema" ] && ! checked=$("$opa" check --schema "$schema" --capabilities "$check_caps" --ignore '*_test.rego' . 2>&1); then
  printf '%s\n' "$checked" >&2
  case "$checked" in
    *"undefined ref: input"*) echo "policy.sh: the policy reads an input field the sidecar never sends (see $4)" >&2 ;;
  esac
  exit 1
fi
"$opa" build -t wasm \
  -e mcp/authz/decision -e mcp/authz/visible \
  --capabilities "$caps" \
  --revision "$rev" \
  --ignore '*_test.rego' \
  -o "$out" .
# Readable by the runtime's non-root user whatever the builder's umask.
chmod 0644 "$out"
echo "policy.sh: $out revision $rev" >&2
