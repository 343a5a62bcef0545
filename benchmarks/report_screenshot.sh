#!/usr/bin/env bash
# Render a run report in a real headless browser and save a PNG to look at:
#   bash benchmarks/report_screenshot.sh results/<run_id>/report/report.html [out.png]
# Needs Debian's Chromium (apt-get install chromium); the flags keep it off the network.
set -euo pipefail
page=$(realpath "$1")
out=${2:-${page%.html}.png}
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --window-size=1000,3200 --screenshot="$out" "file://$page" \
  2>/dev/null
echo "wrote $out"
