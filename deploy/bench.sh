#!/usr/bin/env bash
# `make bench`: every benchmark of the project in one run, raw output and a summary
# in bench/results/. Make has sourced .cache/images.env (KAFKA_IMAGE, POSTGRES_IMAGE)
# and exported the TESTCONTAINERS_* settings; the Kafka/Postgres benchmarks and the
# load generator start their own containers and remove them when done.
#
# Settings (environment): COUNT (samples of the cheap benchmarks, default 3),
# LOADGEN_RATE (holds/s, default 100), LOADGEN_DURATION (default 30s),
# LOADGEN_ZONES (default 1: the hot zone), LOADGEN_CONCURRENCY (default 2000).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
OUT=bench/results
COUNT=${COUNT:-3}
RATE=${LOADGEN_RATE:-100}
DURATION=${LOADGEN_DURATION:-30s}
ZONES=${LOADGEN_ZONES:-1}
CONC=${LOADGEN_CONCURRENCY:-2000}
# The in-memory state machine benchmarks of processor/bench_test.go.
STATE_BENCH='^Benchmark(ApplyHotZone|ApplyHotZoneCacheResident|ApplyHotZoneWithDrain|ApplyHotZoneRetention24h|Restore)$'

mkdir -p "$OUT"
rm -f "$OUT"/*.txt "$OUT"/summary.md
{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (dirty tree)')"
	echo "go: $($GO env GOVERSION) $($GO env GOOS)/$($GO env GOARCH), cpus: $(nproc)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "images: ${KAFKA_IMAGE:-apache/kafka (default)} ${POSTGRES_IMAGE:-postgres (default)}"
} >"$OUT/env.txt"
cat "$OUT/env.txt"

step() { printf '\n==> %s\n' "$*"; }

step "processor: state machine, in memory (count=$COUNT)"
$GO test -run '^$' -bench "$STATE_BENCH" -benchmem -count="$COUNT" -timeout 30m ./processor/ | tee "$OUT/processor_state.txt"

step "processor: BenchmarkLoopHotZone on real Kafka (100000 commands, count=$COUNT)"
$GO test -run '^$' -bench '^BenchmarkLoopHotZone$' -benchtime=100000x -count="$COUNT" -timeout 30m ./processor/ | tee "$OUT/processor_loop.txt"

step "processor: BenchmarkRestore1M on real Kafka (3 restores)"
$GO test -run '^$' -bench '^BenchmarkRestore1M$' -benchtime=3x -timeout 30m ./processor/ | tee "$OUT/processor_restore1m.txt"

step "sink: BenchmarkSinkApply on real Postgres (30 batches each)"
$GO test -run '^$' -bench '^BenchmarkSinkApply$' -benchtime 30x -benchmem -timeout 30m ./sink/ | tee "$OUT/sink_apply.txt"

step "loadgen -self: $RATE holds/s for $DURATION on $ZONES zone(s)"
$GO run ./cmd/loadgen -self -rate "$RATE" -duration "$DURATION" -zones "$ZONES" -concurrency "$CONC" \
	-out "$OUT/loadgen" | tee "$OUT/loadgen.txt"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/env.txt"

# Optional: benchstat's own table, when the tool resolves (no go.mod change).
if timeout 120 $GO run golang.org/x/perf/cmd/benchstat@latest "$OUT"/processor_*.txt "$OUT"/sink_apply.txt \
	>"$OUT/benchstat.txt" 2>/dev/null; then
	:
else
	rm -f "$OUT/benchstat.txt"
fi

# Summary: the median of every metric of every benchmark over its samples.
medians() {
	awk '
	/^Benchmark/ {
		name = $1; sub(/-[0-9]+$/, "", name)
		if (!(name in seen)) { seen[name] = 1; order[++nn] = name }
		n[name]++
		for (i = 3; i + 1 <= NF; i += 2) {
			unit = $(i + 1); key = name SUBSEP unit
			if (!(key in has)) { has[key] = 1; units[name] = units[name] " " unit }
			vals[key] = vals[key] " " $i
		}
	}
	function median(s,   a, k, m, i, j, t) {
		m = split(s, a, " ")
		for (i = 2; i <= m; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
		if (m % 2) return a[(m + 1) / 2]
		return (a[m / 2] + a[m / 2 + 1]) / 2
	}
	function show(v) { return (v >= 1e6 || v == int(v)) ? sprintf("%.0f", v) : sprintf("%.3g", v) }
	END {
		for (k = 1; k <= nn; k++) {
			name = order[k]; line = ""
			m = split(units[name], u, " ")
			for (i = 1; i <= m; i++) line = line sprintf("%s %s; ", show(median(vals[name SUBSEP u[i]])), u[i])
			printf "| %s | %d | %s |\n", name, n[name], line
		}
	}' "$@"
}

{
	echo "# Benchmarks ($(date -u +%Y-%m-%d))"
	echo
	echo '```'
	cat "$OUT/env.txt"
	echo '```'
	echo
	echo "Shared 2-core machine, other work running: the figures are noisy; medians over the samples."
	echo
	echo "| benchmark | samples | medians |"
	echo "|---|---|---|"
	medians "$OUT/processor_state.txt" "$OUT/processor_loop.txt" "$OUT/processor_restore1m.txt" "$OUT/sink_apply.txt"
	echo
	echo "## Load generator (loadgen -self): $RATE holds/s offered for $DURATION, $ZONES zone(s)"
	echo
	echo "Everything on the same machine: Kafka and Postgres in Docker, ticketd in-process, the load generator."
	echo
	echo '```'
	sed -n '/^holds: offered/,$p' "$OUT/loadgen.txt"
	echo '```'
	echo
	echo "Plot: loadgen/latency.png; per-request data: loadgen/latency.csv; figures: loadgen/results.json."
} >"$OUT/summary.md"

step "summary ($OUT/summary.md)"
cat "$OUT/summary.md"
