package hotbench

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/internal/loadgen"
)

// stepRun is a synthetic step run whose knee's ceiling is ceiling.
func stepRun(rep int, sc, sys string, ceiling float64) Trial {
	var steps []*loadgen.FireResult
	for i, rate := range []float64{ceiling / 2, ceiling, ceiling * 2} {
		steps = append(steps, &loadgen.FireResult{Rate: rate, VisiblePerSec: min(rate, ceiling), PerSecond: seconds(3, rate, float64(i+1))})
	}
	return Trial{Repeat: rep, Scenario: sc, System: sys,
		Step: &loadgen.StepResult{Steps: steps, Knee: 1, KneeRate: ceiling, Ceiling: ceiling},
		CPU:  map[string]float64{CompPostgres: 0.1 * float64(rep), CompGenerator: 0.05}}
}

func seconds(n int, rate, p99 float64) []loadgen.SecondStats {
	out := make([]loadgen.SecondStats, n)
	for i := range out {
		out[i] = loadgen.SecondStats{Second: i, Offered: int64(rate), Accepted: int64(rate), Visible: int64(rate), AcceptedP99Ms: p99}
	}
	return out
}

func fireRun(rep int, sc, sys string, offered, goodput, rejectedP99 float64, lost int64) Trial {
	return Trial{Repeat: rep, Scenario: sc, System: sys, OfferedRate: offered, Fire: &loadgen.FireResult{
		Rate: offered, VisiblePerSec: goodput, Lost: lost, PerSecond: seconds(5, goodput, 4),
		RejectedLatency: loadgen.Summary{P99: rejectedP99}, AcceptedLatency: loadgen.Summary{P50: 2, P99: 15},
		SubmitToVisible: loadgen.Summary{P99: 80},
	}, CPU: map[string]float64{CompAPI: 0.2}}
}

func syntheticResults() *Results {
	r := &Results{StartedAt: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), StepSeconds: 10, Repeats: 3, Batch: 100,
		Scenarios: ScenariosAll}
	for rep := 1; rep <= 3; rep++ {
		k := float64(rep) // medians: the second repeat's figures
		r.Runs = append(r.Runs,
			stepRun(rep, ScenarioHot, SystemPipeline, 11000+(k-2)*1000), // median 11000
			stepRun(rep, ScenarioHot, SystemClassic, 2000),
			stepRun(rep, ScenarioBatch, SystemPipeline, 40000),
			stepRun(rep, ScenarioBatch, SystemClassic, 2500),
			stepRun(rep, ScenarioSpread, SystemPipeline, 20000),
			stepRun(rep, ScenarioSpread, SystemClassic, 6000),
			fireRun(rep, ScenarioOverload, SystemPipeline, 33000, 10500, 30, 0),
			fireRun(rep, ScenarioOverload, SystemClassic, 33000, 1500, 900, 3),
			fireRun(rep, ScenarioHalf, SystemPipeline, 5500, 5500, 0, 0),
			fireRun(rep, ScenarioHalf, SystemClassic, 1000, 1000, 0, 0),
		)
		r.Kafka = append(r.Kafka, KafkaCeiling{RecordBytes: 300, Records: 1000, ProducePerSec: 110000 * k, ConsumePerSec: 250000})
	}
	r.Runs = append(r.Runs, Trial{Repeat: 3, Scenario: ScenarioBatch, System: SystemPipeline, Error: "batch endpoint: 404"})
	return r
}

// The summary takes the median of every figure over the repeats, and the table
// shows them with ratios and issue 8's targets, met or not.
func TestSummaryAndTable(t *testing.T) {
	r := syntheticResults()
	r.summarize()
	p, c := r.Summary[SystemPipeline], r.Summary[SystemClassic]
	if p.HotCeiling != 11000 || c.HotCeiling != 2000 || p.BatchCeiling != 40000 || p.SpreadCeiling != 20000 {
		t.Errorf("ceilings: %+v", p)
	}
	if math.Abs(p.OverloadShare-10500.0/11000) > 1e-9 || p.OverloadRejectedP99 != 30 || c.OverloadLost != 3 {
		t.Errorf("overload: %+v", p)
	}
	if got := p.CPU[ScenarioHot][CompPostgres]; got != 0.2 {
		t.Errorf("median CPU of postgres at hot = %v, want 0.2", got)
	}
	if r.KafkaMedian == nil || r.KafkaMedian.ProducePerSec != 220000 || math.Abs(r.PipelineShareOfKafka-0.05) > 1e-9 {
		t.Errorf("kafka: %+v share %v", r.KafkaMedian, r.PipelineShareOfKafka)
	}
	md := r.Markdown()
	for _, want := range []string{
		"| hot zone, 1 hold/request | ceiling, holds/s end to end | 11,000 | 2,000 | 5.50× | ≥ 10,000/s and ≥ 5× classic | yes |",
		"| hot zone, batched (100/request) | ceiling, holds/s end to end | 40,000 | 2,500 | 16.00× | ≥ 50,000/s and ≥ 25× classic | **no** |",
		"| spread, 64 zones | ceiling, holds/s end to end | 20,000 | 6,000 | 3.33× | ≥ 3× classic | yes |",
		"|  | goodput / own ceiling | 95% | 75% |  | ≥ 90% | yes |",
		"|  | rejected (429/503) p99 | 30.0 ms | 900 ms |  | ≤ 50 ms | yes |",
		"|  | accepted but never visible | 0 | 3 |  | 0 | yes |",
		"|  | submit-to-visible p99 (sampled) | 80.0 ms | 80.0 ms |  | ≤ 100 ms | yes |",
		"pipeline's hot ceiling / Kafka's | 5% |",
		"| postgres | 0.200 |",
		"- repeat 3, pipeline, batch: batch endpoint: 404",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
}

// With nothing measured for a scenario, the table shows dashes, not NaN, and the
// JSON is still valid.
func TestMissingFigures(t *testing.T) {
	r := &Results{Repeats: 1, Runs: []Trial{stepRun(1, ScenarioHot, SystemPipeline, 1000)}}
	r.summarize()
	md := r.Markdown()
	if strings.Contains(md, "NaN") || !strings.Contains(md, "| 1,000 | – | – |") {
		t.Errorf("table:\n%s", md)
	}
	dir := t.TempDir()
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil || !json.Valid(raw) {
		t.Fatalf("results.json: %v", err)
	}
}

// Write writes the JSON, the markdown and both plots.
func TestWrite(t *testing.T) {
	r := syntheticResults()
	r.summarize()
	dir := t.TempDir()
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"results.json", "hot.md", "hot.png", "overload.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	var back Results
	raw, _ := os.ReadFile(filepath.Join(dir, "results.json"))
	if err := json.Unmarshal(raw, &back); err != nil || len(back.Runs) != len(r.Runs) {
		t.Errorf("results.json: %v, %d runs", err, len(back.Runs))
	}
	if got := len(timeline(r.Runs[0])); got != 9 {
		t.Errorf("a step run's timeline has %d seconds, want 3 steps of 3", got)
	}
}

// /proc/<pid>/stat is parsed from the last ')', whatever the command name holds.
func TestParseStat(t *testing.T) {
	raw := []byte("42 (a (b) c) S 7 42 42 0 -1 4194560 100 0 0 0 250 50 3 4 20 0 1 0 100 1000 10\n")
	st, err := parseStat(raw)
	if err != nil {
		t.Fatal(err)
	}
	if st.comm != "a (b) c" || st.ppid != 7 || st.utime != 250 || st.stime != 50 || st.cutime != 3 || st.cstime != 4 {
		t.Errorf("parsed %+v", st)
	}
	if st.cpu() != 3*time.Second {
		t.Errorf("cpu %v, want 3s", st.cpu())
	}
	if _, err := parseStat([]byte("42 x S")); err == nil {
		t.Error("a line without a command name parsed")
	}
}

// The meter reads this process and sums per 1,000 holds.
func TestMeter(t *testing.T) {
	m := &Meter{Sources: []CPUSource{
		procSource("self", os.Getpid()),
		SelfSource(),
		{Name: "proxy", Read: func() (time.Duration, error) { return NamedCPU("no-such-process-name") }},
	}}
	s := m.Snapshot()
	if _, ok := s["self"]; !ok {
		t.Errorf("snapshot %v lacks this process", s)
	}
	if s["proxy"] != 0 {
		t.Errorf("no process of that name, yet %v", s["proxy"])
	}
	a := CPUSnapshot{"x": time.Second, "y": 0}
	b := CPUSnapshot{"x": 3 * time.Second, "z": time.Second}
	got := PerThousand(a, b, 4000)
	if len(got) != 1 || got["x"] != 0.5 {
		t.Errorf("per thousand %v, want x: 0.5", got)
	}
	if PerThousand(a, b, 0) != nil {
		t.Error("per thousand of no holds")
	}
}

// The record size of the probe is that of a real encoded command.
func TestCommandRecordBytes(t *testing.T) {
	n, err := CommandRecordBytes()
	if err != nil || n < 150 || n > 1000 {
		t.Errorf("command record: %d bytes, %v", n, err)
	}
}
