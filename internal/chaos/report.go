package chaos

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Report is what a run found.
type Report struct {
	Seed     int64
	Duration time.Duration
	Elapsed  time.Duration
	Dir      string
	Faults   map[Kind]int
	// FaultErrors are faults that could not be injected or healed as planned.
	FaultErrors []string
	// Dropped are planned faults that could not start in time.
	Dropped                                  []Fault
	Sent, Accepted, Failed, Skipped, Retries int64
	// Answers counts the accepted requests by their final GET /requests/{id} status.
	Answers map[string]int
	// Decisions counts the events topic's decisions by event type (and reason).
	Decisions map[string]int
	Events    int
	// UnexpectedExits lists the components that exited without being told to.
	UnexpectedExits map[string][]string
	Invariants      []string
	Violations      []Violation
}

// ViolationCount is the number of broken invariants found (it must be 0).
func (rep *Report) ViolationCount() int {
	n := 0
	for _, v := range rep.Violations {
		n += v.Count
	}
	return n
}

func (r *run) report(acc []accepted, answers map[string]int) *Report {
	rep := &Report{
		Seed: r.cfg.Seed, Duration: r.cfg.Duration, Elapsed: time.Since(r.start), Dir: r.cfg.Dir,
		Faults: r.inj.faultCounts(), FaultErrors: r.inj.errs, Dropped: r.inj.dropped,
		Sent: r.load.sent.Load(), Accepted: int64(len(acc)), Failed: r.load.failed.Load(),
		Skipped: r.load.skipped.Load(), Retries: r.load.retries.Load(),
		Answers: answers, Decisions: map[string]int{}, UnexpectedExits: map[string][]string{},
	}
	r.fold.mu.Lock()
	rep.Events = r.fold.events
	for _, d := range r.fold.decisions {
		k := string(d.evType)
		if d.reason != "" {
			k += " " + string(d.reason)
		}
		rep.Decisions[k]++
	}
	r.fold.mu.Unlock()
	all := slices.Collect(maps.Values(r.procs))
	all = append(all, r.dups...)
	for _, p := range all {
		if ex := p.unexpectedExits(); len(ex) > 0 {
			rep.UnexpectedExits[p.name] = ex
		}
		for _, line := range p.panics() {
			r.v.add(invNoPanic, "%s: %s", p.name, line)
		}
	}
	rep.Invariants = []string{invEventInventory, invInventoryDrift, invHoldOnce, invOrderOnce, invRequestOnce,
		invKeyOneHold, invExpiredOnTime, invUndecodableEvent, invPGInventory, invPGEqualsLog, invStateRestores,
		invStateEqualsLog, invLogTime, invTerminal, invInFold, invDrained, invNoPanic, invAPICheck}
	rep.Violations = r.v.list()
	return rep
}

// Print writes the report.
func (rep *Report) Print(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("=== chaos report: seed %d (replay: CHAOS_SEED=%d CHAOS_DURATION=%s), %s of faults, %s in all",
		rep.Seed, rep.Seed, rep.Duration, rep.Duration, rep.Elapsed.Round(time.Second))
	p("logs: %s", rep.Dir)
	p("faults injected:")
	total := 0
	for _, k := range kinds {
		p("  %-28s %d", k, rep.Faults[k])
		total += rep.Faults[k]
	}
	p("  %-28s %d", "total", total)
	for _, f := range rep.Dropped {
		p("  dropped (its target was busy until the end): %s", f)
	}
	for _, e := range rep.FaultErrors {
		p("  fault error: %s", e)
	}
	p("requests: sent %d, accepted (202) %d, failed or refused %d, skipped (client busy) %d, retries with the same key %d",
		rep.Sent, rep.Accepted, rep.Failed, rep.Skipped, rep.Retries)
	p("accepted requests by final answer: %s", formatCounts(rep.Answers))
	p("events on the topic: %d; decisions: %s", rep.Events, formatCounts(rep.Decisions))
	for _, name := range slices.Sorted(maps.Keys(rep.UnexpectedExits)) {
		ex := rep.UnexpectedExits[name]
		p("unexpected exits of %s: %d (%s)", name, len(ex), strings.Join(ex, "; "))
	}
	p("invariants checked:")
	broken := map[string]int{}
	for _, v := range rep.Violations {
		broken[v.Invariant] = v.Count
	}
	for _, inv := range rep.Invariants {
		p("  %-6s %s", okOr(broken[inv]), inv)
	}
	p("violations: %d", rep.ViolationCount())
	for _, v := range rep.Violations {
		p("  %s: %d", v.Invariant, v.Count)
		for _, e := range v.Examples {
			p("    - %s", e)
		}
	}
}

func okOr(n int) string {
	if n == 0 {
		return "ok"
	}
	return fmt.Sprintf("%d!", n)
}

func formatCounts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
