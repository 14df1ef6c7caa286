#!/bin/sh
# Two federating Doorstep instances in the background, for CI (README "Two federating instances").
# Run from the repository root after `npm run build`:
#
#   sh examples/federation/start-pair.sh [dir]     (default ./federation-pair)
#
# Writes the pair's configs and certificates (scripts/federation-pair.js), starts both servers with
# their output in dir/a.log and dir/b.log, waits until both client APIs answer, and prints how to stop
# them. DOORSTEP=path/to/doorstep.js runs another build.
set -eu
dir=${1:-federation-pair}
entry=${DOORSTEP:-dist/doorstep.js}
[ -f "$entry" ] || { echo "start-pair: no $entry; run npm run build first" >&2; exit 2; }

node scripts/federation-pair.js "$dir" >/dev/null
for s in a b; do
  node "$entry" --config "$dir/$s.yaml" >"$dir/$s.log" 2>&1 &
  echo $! >"$dir/$s.pid"
done

# Wait (up to 30 s) for http://127.0.0.1:8008 and :8009 to answer /_matrix/client/versions.
node -e '
  const urls = ["http://127.0.0.1:8008", "http://127.0.0.1:8009"];
  const deadline = Date.now() + 30000;
  (async () => {
    for (const u of urls) {
      for (;;) {
        try { if ((await fetch(u + "/_matrix/client/versions")).ok) break; } catch {}
        if (Date.now() > deadline) { console.error("start-pair: " + u + " did not answer in 30 s"); process.exit(1); }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  })();
' || { echo "start-pair: see $dir/a.log and $dir/b.log" >&2; kill "$(cat "$dir/a.pid")" "$(cat "$dir/b.pid")" 2>/dev/null || true; exit 1; }

echo "localhost:8481 (client http://127.0.0.1:8008) and localhost:8482 (client http://127.0.0.1:8009) are up."
echo "Logs: $dir/a.log, $dir/b.log. Stop with: kill \$(cat $dir/a.pid) \$(cat $dir/b.pid)"
