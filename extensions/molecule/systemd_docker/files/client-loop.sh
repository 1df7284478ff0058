#!/usr/bin/env bash
# A bounded client: one request to URL every 50 ms until OUTPUT.stop appears (at most 3,000 requests, about
# three minutes). OUTPUT gets one HTTP status per line (000: no answer); OUTPUT.window the epoch seconds of the
# first and the last request.
#   client-loop.sh URL OUTPUT
set -uo pipefail
url="$1" output="$2"
rm -f "$output.stop" "$output" "$output.window"
: >"$output.tmp"
first=$(date +%s.%N)
for _ in $(seq 1 3000); do
  curl -s -o /dev/null --max-time 2 -w '%{http_code}\n' "$url" >>"$output.tmp"
  test -e "$output.stop" && break
  sleep 0.05
done
echo "$first $(date +%s.%N)" >"$output.window"
mv "$output.tmp" "$output"
