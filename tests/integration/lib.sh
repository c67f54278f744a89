# tests/integration/lib.sh - shared by the integration scripts: a unique segment
# name, cleanup on exit, and assertions that say what they expected.
set -euo pipefail
BIN=$(cd "${1:?usage: $0 BINDIR}" && pwd)
SEG=psm-it-$(basename "$0" .sh)-$$
PASS=0
FAIL=0
cleanup_hooks=()
cleanup() {
    for h in "${cleanup_hooks[@]}"; do eval "$h" || true; done
    rm -f "/dev/shm/$SEG" "/dev/shm/$SEG".*
}
trap cleanup EXIT
on_exit() { cleanup_hooks+=("$1"); }

ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }

# check DESCRIPTION COMMAND...: passes when the command exits 0
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}

finish() {
    echo "$(basename "$0" .sh): $PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
}
