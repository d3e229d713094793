#!/usr/bin/env bash
# Rebuild netspec/studio/static/codemirror.js (the studio's editor, CodeMirror 6, one minified file) from the
# versions pinned in studio-src/package-lock.json, and the licences of what it bundles beside it.
# Needs node >= 18 and npm; run from anywhere. The result is committed: the studio fetches nothing at run time.
set -euo pipefail
cd "$(dirname "$0")/../studio-src"
npm ci --no-audit --no-fund
npm run build
node licenses.cjs > ../netspec/studio/static/codemirror.LICENSES.txt
