# tests/integration/lib.sh - the integration scripts (shmdump, expositions, the
# deploy kit, the package, the demo, the man pages) need nothing beyond
# tests/lib/common.sh but its -e and their segment names (psm-it-*: tests/run.sh
# removes what a killed test leaves). The end-to-end test uses tests/core/lib.sh.
#
# Usage in a script: source "$(dirname "$0")/lib.sh" [BINDIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh" psm-it "${1-}"
