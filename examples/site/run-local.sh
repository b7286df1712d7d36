#!/usr/bin/env bash
# A small site on this one machine, for trying it out: PostgreSQL and Mosquitto on loopback, two
# workers sharing four synthetic cameras, and a review page on http://127.0.0.1:8080/.
# Ctrl-C stops it all. Run from the repository root: bash examples/site/run-local.sh
set -euo pipefail
db=$(bash .ci/postgres)
broker=${MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}
svdgan=${SVDGAN:-$(command -v svdgan || echo .venv/bin/svdgan)}  # make install's, if none is on PATH
work=$(mktemp -d)
cat > "$work/site.yaml" <<YAML
site: {takeover_seconds: 30, renew_seconds: 5}
mqtt: {enabled: true, host: 127.0.0.1, port: 18830}
cameras:
  - {name: cam1, source: "synthetic:1", fps: 5, learn: "60s"}
  - {name: cam2, source: "synthetic:2", fps: 5, learn: "60s"}
  - {name: cam3, source: "synthetic:3", fps: 5, learn: "60s"}
  - {name: cam4, source: "synthetic:4", fps: 5, learn: "60s"}
YAML
printf 'listener 18830 127.0.0.1\nallow_anonymous true\n' > "$work/mosquitto.conf"
trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT
"$broker" -c "$work/mosquitto.conf" &
for n in 1 2; do
  "$svdgan" serve --worker "worker$n" --config "$work/site.yaml" --db "$db" --port "808$n" --storage "$work/w$n" &
done
"$svdgan" serve --review --db "$db" --port 8080 --storage "$work/review" &
echo "review page: http://127.0.0.1:8080/#/health (workers on :8081 and :8082; kill one to see the move)" >&2
wait
