package hotbench

import (
	"fmt"
	"math"
	"strings"
)

// Targets of issue 8 (this 2-core machine, generator included, median of 3).
const (
	TargetHotPerSec        = 10_000
	TargetHotRatio         = 5
	TargetBatchPerSec      = 50_000
	TargetBatchRatio       = 25
	TargetSpreadRatio      = 3
	TargetOverloadShare    = 0.9
	TargetRejectedP99Ms    = 50
	TargetHalfAcceptedP99  = 20
	TargetHalfVisibleP99Ms = 100
)

// row is one line of the table.
type row struct {
	scenario, measure  string
	pipeline, classic  string
	ratio, target, met string
}

// Markdown is the table of the run, ready for BENCHMARKS.md: pipeline against
// classic with ratios and issue 8's targets, then the CPU per 1,000 holds.
func (r *Results) Markdown() string {
	p, c := r.Summary[SystemPipeline], r.Summary[SystemClassic]
	var b strings.Builder
	fmt.Fprintf(&b, "## Hot zone: pipeline against classic (%s)\n\n", r.StartedAt.Format("2006-01-02"))
	mode := ""
	if r.Quick {
		mode = ", quick mode (a smoke test, not a measurement)"
	}
	fmt.Fprintf(&b, "Median of %d repeat(s), %.0f s per step%s. Everything on this machine: Kafka and Postgres in Docker, "+
		"ticketd api, processor and sink as processes, cmd/classic, the load generator. Ceiling: the highest offered rate "+
		"of a step with ≥ 99%% accepted and every accepted hold visible (held+sold) within 1 s of the step's end; "+
		"its end-to-end rate is shown.\n\n", r.Repeats, r.StepSeconds, mode)
	rows := []row{
		{"hot zone, 1 hold/request", "ceiling, holds/s end to end", rate(p.HotCeiling), rate(c.HotCeiling),
			ratio(p.HotCeiling, c.HotCeiling), fmt.Sprintf("≥ %s/s and ≥ %d× classic", thousands(TargetHotPerSec), TargetHotRatio),
			met(p.HotCeiling >= TargetHotPerSec && p.HotCeiling >= TargetHotRatio*c.HotCeiling, p.HotCeiling, c.HotCeiling)},
		{fmt.Sprintf("hot zone, batched (%d/request)", r.Batch), "ceiling, holds/s end to end", rate(p.BatchCeiling), rate(c.BatchCeiling),
			ratio(p.BatchCeiling, c.BatchCeiling), fmt.Sprintf("≥ %s/s and ≥ %d× classic", thousands(TargetBatchPerSec), TargetBatchRatio),
			met(p.BatchCeiling >= TargetBatchPerSec && p.BatchCeiling >= TargetBatchRatio*c.BatchCeiling, p.BatchCeiling, c.BatchCeiling)},
		{fmt.Sprintf("spread, %d zones", SpreadZones), "ceiling, holds/s end to end", rate(p.SpreadCeiling), rate(c.SpreadCeiling),
			ratio(p.SpreadCeiling, c.SpreadCeiling), fmt.Sprintf("≥ %d× classic", TargetSpreadRatio),
			met(p.SpreadCeiling >= TargetSpreadRatio*c.SpreadCeiling, p.SpreadCeiling, c.SpreadCeiling)},
		{fmt.Sprintf("overload, %d× the pipeline's ceiling (%s/s offered)", OverloadFactor, rate(p.OverloadOffered)),
			"goodput, visible holds/s", rate(p.OverloadGoodput), rate(c.OverloadGoodput), ratio(p.OverloadGoodput, c.OverloadGoodput), "", ""},
		{"", "goodput / own ceiling", pct(p.OverloadShare), pct(c.OverloadShare), "",
			fmt.Sprintf("≥ %.0f%%", 100*TargetOverloadShare), met(p.OverloadShare >= TargetOverloadShare, p.OverloadShare)},
		{"", "rejected (429/503) p99", msec(p.OverloadRejectedP99), msec(c.OverloadRejectedP99), "",
			fmt.Sprintf("≤ %d ms", TargetRejectedP99Ms), met(p.OverloadRejectedP99 <= TargetRejectedP99Ms, p.OverloadRejectedP99)},
		{"", "accepted but never visible", count(p.OverloadLost), count(c.OverloadLost), "", "0",
			met(p.OverloadLost == 0, p.OverloadLost)},
		{"half the own ceiling", "accepted (202/201) p50", msec(p.HalfAcceptedP50), msec(c.HalfAcceptedP50), "", "", ""},
		{"", "accepted (202/201) p99", msec(p.HalfAcceptedP99), msec(c.HalfAcceptedP99), "",
			fmt.Sprintf("≤ %d ms", TargetHalfAcceptedP99), met(p.HalfAcceptedP99 <= TargetHalfAcceptedP99, p.HalfAcceptedP99)},
		{"", "submit-to-visible p99 (sampled)", msec(p.HalfVisibleP99), msec(c.HalfVisibleP99), "",
			fmt.Sprintf("≤ %d ms", TargetHalfVisibleP99Ms), met(p.HalfVisibleP99 <= TargetHalfVisibleP99Ms, p.HalfVisibleP99)},
	}
	if k := r.KafkaMedian; k != nil {
		rows = append(rows, row{fmt.Sprintf("Kafka alone, 1 partition, %d-byte records", k.RecordBytes),
			"produce / consume records/s", fmt.Sprintf("%s / %s", rate(k.ProducePerSec), rate(k.ConsumePerSec)), "",
			"", "", ""},
			row{"", "pipeline's hot ceiling / Kafka's", pct(r.PipelineShareOfKafka), "", "", "", ""})
	}
	b.WriteString("| scenario | measure | pipeline | classic | pipeline / classic | target (issue 8) | met |\n")
	b.WriteString("|---|---|---:|---:|---:|---|---|\n")
	for _, x := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", x.scenario, x.measure, x.pipeline, x.classic, x.ratio, x.target, x.met)
	}
	b.WriteString(r.cpuTable())
	b.WriteString(r.failures())
	b.WriteString("\nPlots: hot.png (the hot zone's steps), overload.png (the overload run): accepted and visible holds/s " +
		"and the accepted answers' p99 latency per second, pipeline against classic. Every step: results.json.\n")
	return b.String()
}

// cpuTable is CPU seconds per 1,000 holds by component and scenario.
func (r *Results) cpuTable() string {
	var b strings.Builder
	b.WriteString("\n### CPU seconds per 1,000 holds (at each ceiling's step, and over the fixed runs)\n\n")
	type col struct{ sys, sc string }
	var cols []col
	for _, sc := range []string{ScenarioHot, ScenarioBatch, ScenarioSpread, ScenarioOverload, ScenarioHalf} {
		for _, sys := range []string{SystemPipeline, SystemClassic} {
			if len(r.Summary[sys].CPU[sc]) > 0 {
				cols = append(cols, col{sys, sc})
			}
		}
	}
	if len(cols) == 0 {
		return b.String() + "(none measured)\n"
	}
	b.WriteString("| component |")
	for _, c := range cols {
		fmt.Fprintf(&b, " %s %s |", c.sys, c.sc)
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(cols)) + "\n")
	comps := []string{CompAPI, CompProcessor, CompSink, CompClassic, CompKafka, CompPostgres, CompDockerProxy, CompGenerator}
	totals := make([]float64, len(cols))
	for _, comp := range comps {
		fmt.Fprintf(&b, "| %s |", comp)
		for i, c := range cols {
			v, ok := r.Summary[c.sys].CPU[c.sc][comp]
			if !ok {
				b.WriteString(" |")
				continue
			}
			totals[i] += v
			fmt.Fprintf(&b, " %.3f |", v)
		}
		b.WriteString("\n")
	}
	b.WriteString("| **total** |")
	for _, t := range totals {
		fmt.Fprintf(&b, " **%.3f** |", t)
	}
	b.WriteString("\n")
	return b.String()
}

// failures lists the runs that failed.
func (r *Results) failures() string {
	var b strings.Builder
	for _, run := range r.Runs {
		if run.Error != "" {
			if b.Len() == 0 {
				b.WriteString("\nRuns that failed:\n\n")
			}
			fmt.Fprintf(&b, "- repeat %d, %s, %s: %s\n", run.Repeat, run.System, run.Scenario, run.Error)
		}
	}
	return b.String()
}

func bad(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) }

func rate(x float64) string {
	if bad(x) {
		return "–"
	}
	return thousands(int64(math.Round(x)))
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func ratio(a, b float64) string {
	if bad(a) || bad(b) || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func pct(x float64) string {
	if bad(x) {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*x)
}

func msec(x float64) string {
	if bad(x) {
		return "–"
	}
	if x >= 100 {
		return fmt.Sprintf("%.0f ms", x)
	}
	return fmt.Sprintf("%.1f ms", x)
}

func count(x float64) string {
	if bad(x) {
		return "–"
	}
	return thousands(int64(math.Round(x)))
}

// met is "yes" or "**no**", or "–" when a figure it depends on is missing.
func met(ok bool, figures ...float64) string {
	for _, f := range figures {
		if bad(f) {
			return "–"
		}
	}
	if ok {
		return "yes"
	}
	return "**no**"
}
