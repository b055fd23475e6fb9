#!/usr/bin/env bash
# `make bench`: every benchmark of the project in one run, raw output and a summary
# in bench/results/. Make has sourced .cache/images.env (KAFKA_IMAGE, POSTGRES_IMAGE)
# and exported the TESTCONTAINERS_* settings; the Kafka/Postgres benchmarks and the
# load generator start their own containers and remove them when done.
#
# Settings (environment): COUNT (samples of the cheap benchmarks, default 3),
# LOADGEN_RATE (holds/s, default 200), LOADGEN_DURATION (default 30s),
# LOADGEN_ZONES (default 1: the hot zone), LOADGEN_CONCURRENCY (default 2000),
# BENCH_STEPS (default "state loop restore sink latency loadgen hot room": the steps to run;
# the summary is made from whatever raw files bench/results/ holds),
# HOT_FLAGS (extra flags of cmd/hotbench, e.g. "-quick" or "-repeats 1"),
# ROOM_FLAGS (extra flags of cmd/roombench, the flash crowd, e.g. "-joiners 5000 -tickets 1000").
# `bash deploy/bench.sh summary` only remakes bench/results/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
OUT=bench/results
COUNT=${COUNT:-3}
RATE=${LOADGEN_RATE:-200}
DURATION=${LOADGEN_DURATION:-30s}
ZONES=${LOADGEN_ZONES:-1}
CONC=${LOADGEN_CONCURRENCY:-2000}
# The in-memory state machine benchmarks of processor/zone/bench_test.go.
ALL_STEPS="state loop restore sink latency loadgen hot room"
STEPS=" ${BENCH_STEPS:-$ALL_STEPS} "
HOT_FLAGS=${HOT_FLAGS:-}
ROOM_FLAGS=${ROOM_FLAGS:-}
STATE_BENCH='^Benchmark(ApplyHotZone|ApplyHotZoneCacheResident|ApplyHotZoneWithDrain|ApplyHotZoneRetention24h|Rebuild)$'

step() { printf '\n==> %s\n' "$*"; }

# run_steps runs the steps, raw output to bench/results/; env.txt gathers the
# machine and its load for every run (a run of some steps appends to it).
run_steps() {
	mkdir -p "$OUT"
	if [[ $STEPS == " $ALL_STEPS " ]]; then
		rm -f "$OUT/env.txt"
	fi
	{
		echo "--- run of: $STEPS"
		echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
		echo "go: $($GO env GOVERSION) $($GO env GOOS)/$($GO env GOARCH), cpus: $(nproc)"
		echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
		echo "images: ${KAFKA_IMAGE:-apache/kafka (default)} ${POSTGRES_IMAGE:-postgres (default)}"
	} | tee -a "$OUT/env.txt"
	has() { [[ $STEPS == *" $1 "* ]]; }
	load() { echo "load $1: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/env.txt"; }

	if has state; then
		step "processor: state machine, in memory (count=$COUNT)"
		load "before state"
		$GO test -run '^$' -bench "$STATE_BENCH" -benchmem -count="$COUNT" -timeout 30m ./processor/zone/ | tee "$OUT/processor_state.txt"
	fi
	if has loop; then
		step "processor: BenchmarkLoopHotZone on real Kafka (100000 commands, count=$COUNT)"
		load "before loop"
		$GO test -run '^$' -bench '^BenchmarkLoopHotZone$' -benchtime=100000x -count="$COUNT" -timeout 30m ./processor/ | tee "$OUT/processor_loop.txt"
	fi
	if has restore; then
		step "processor: BenchmarkRestore1M on real Kafka (3 restores)"
		load "before restore"
		$GO test -run '^$' -bench '^BenchmarkRestore1M$' -benchtime=3x -timeout 30m ./processor/ | tee "$OUT/processor_restore1m.txt"
	fi
	if has sink; then
		step "sink: BenchmarkSinkApply on real Postgres (30 batches each)"
		load "before sink"
		$GO test -run '^$' -bench '^BenchmarkSinkApply$' -benchtime 30x -benchmem -timeout 30m ./sink/ | tee "$OUT/sink_apply.txt"
	fi
	if has latency; then
		step "end to end: BenchmarkSubmitToVisible, one buyer at a time (200 holds)"
		load "before latency"
		$GO test -run '^$' -bench '^BenchmarkSubmitToVisible$' -benchtime=200x -timeout 30m ./internal/e2e/ | tee "$OUT/e2e_latency.txt"
	fi
	if has loadgen; then
		step "loadgen -self: $RATE holds/s for $DURATION on $ZONES zone(s) (ticketd's log: $OUT/loadgen.stderr)"
		load "before loadgen"
		echo "loadgen: -self -rate $RATE -duration $DURATION -zones $ZONES -concurrency $CONC" >>"$OUT/env.txt"
		$GO run ./cmd/loadgen -self -rate "$RATE" -duration "$DURATION" -zones "$ZONES" -concurrency "$CONC" \
			-out "$OUT/loadgen" 2>"$OUT/loadgen.stderr" | tee "$OUT/loadgen.txt"
		load "after loadgen"
	fi
	if has hot; then
		step "hot zone: pipeline against classic, every component's CPU (cmd/hotbench $HOT_FLAGS; processes' log: $OUT/hot/processes.log)"
		load "before hot"
		echo "hotbench: $HOT_FLAGS" >>"$OUT/env.txt"
		# shellcheck disable=SC2086 # HOT_FLAGS are words
		$GO run ./cmd/hotbench -out "$OUT/hot" $HOT_FLAGS | tee "$OUT/hot.txt"
		load "after hot"
	fi
	if has room; then
		step "flash crowd: N buyers through the waiting room for M tickets (cmd/roombench $ROOM_FLAGS)"
		load "before room"
		echo "roombench: $ROOM_FLAGS" >>"$OUT/env.txt"
		# shellcheck disable=SC2086 # ROOM_FLAGS are words
		$GO run ./cmd/roombench -out "$OUT/room" $ROOM_FLAGS 2>"$OUT/room.stderr" | tee "$OUT/room.txt"
		step "flash crowd, automatic admission (cmd/roombench -automatic $ROOM_FLAGS)"
		# shellcheck disable=SC2086 # ROOM_FLAGS are words
		$GO run ./cmd/roombench -automatic -out "$OUT/room/automatic" $ROOM_FLAGS 2>>"$OUT/room.stderr" | tee -a "$OUT/room.txt"
		load "after room"
	fi

	# Optional: benchstat's own table, when the tool resolves (no go.mod change).
	if timeout 120 $GO run golang.org/x/perf/cmd/benchstat@latest "$OUT"/processor_*.txt "$OUT"/sink_apply.txt \
		>"$OUT/benchstat.txt" 2>/dev/null; then
		:
	else
		rm -f "$OUT/benchstat.txt"
	fi
}

# Summary: the median of every metric of every benchmark over its samples.
medians() {
	awk '
	# A benchmark line is "BenchmarkName-P  N  value unit  value unit ..."; a log
	# line may cut it after the name, and the figures then start a later line.
	function add(name, from,   i, unit, key) {
		if (!(name in seen)) { seen[name] = 1; order[++nn] = name }
		n[name]++
		for (i = from; i + 1 <= NF; i += 2) {
			unit = $(i + 1); key = name SUBSEP unit
			if (!(key in has)) { has[key] = 1; units[name] = units[name] " " unit }
			vals[key] = vals[key] " " $i
		}
	}
	/^Benchmark/ {
		name = $1; sub(/-[0-9]+$/, "", name)
		if ($2 ~ /^[0-9]+$/ && $4 ~ /\/op$/) add(name, 3); else cut = name
		next
	}
	cut != "" && $1 ~ /^[0-9]+$/ && $3 ~ /\/op$/ { add(cut, 2); cut = "" }
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

summary() {
	echo "# Benchmarks ($(date -u +%Y-%m-%d))"
	echo
	echo '```'
	cat "$OUT/env.txt"
	echo '```'
	echo
	echo "Shared 2-core machine with other work running (load averages above): the figures are noisy;"
	echo "each is the median over its samples (Go benchmark lines in the raw files beside this one)."
	echo
	echo "| benchmark | samples | medians |"
	echo "|---|---|---|"
	medians "$OUT/processor_state.txt" "$OUT/processor_loop.txt" "$OUT/processor_restore1m.txt" "$OUT/sink_apply.txt"
	echo
	echo "## Load generator: $(grep '^loadgen:' "$OUT/env.txt" | tail -1 | cut -d' ' -f2-)"
	echo
	echo "Everything on the same machine: Kafka and Postgres in Docker, ticketd in-process, the load generator."
	echo
	echo '```'
	sed -n '/^holds: offered/,$p' "$OUT/loadgen.txt" 2>/dev/null || echo "(no loadgen run)"
	echo '```'
	echo
	echo "Plot: loadgen/latency.png; figures: loadgen/results.json; per-request data: loadgen/latency.csv (not committed)."
	echo
	if [[ -f $OUT/hot/hot.md ]]; then
		cat "$OUT/hot/hot.md"
		echo
		echo "Command: \`go run ./cmd/hotbench -out bench/results/hot $(grep '^hotbench:' "$OUT/env.txt" | tail -1 | cut -d' ' -f2-)\`;"
		echo "figures: hot/results.json; plots: hot/hot.png, hot/overload.png."
	else
		echo "## Hot zone"
		echo
		echo "(no hotbench run)"
	fi
	echo
	if [[ -f $OUT/room/room.md ]]; then
		cat "$OUT/room/room.md"
		echo
		if [[ -f $OUT/room/automatic/room.md ]]; then
			sed 's/^## Flash crowd:/## Flash crowd, automatic admission:/' "$OUT/room/automatic/room.md"
			echo
		fi
		echo "Command: \`go run ./cmd/roombench -out bench/results/room $(grep '^roombench:' "$OUT/env.txt" | tail -1 | cut -d' ' -f2-)\`;"
		echo "figures: room/results.json, room/automatic/results.json; plots: room/room.png, room/automatic/room.png."
	else
		echo "## Flash crowd"
		echo
		echo "(no roombench run)"
	fi
}

if [[ ${1:-} != summary ]]; then
	run_steps
fi
summary >"$OUT/summary.md"

step "summary ($OUT/summary.md)"
cat "$OUT/summary.md"
