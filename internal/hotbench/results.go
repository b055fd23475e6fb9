package hotbench

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/internal/loadgen"
)

// Trial is one scenario on one system in one repeat.
type Trial struct {
	Repeat   int    `json:"repeat"`
	Scenario string `json:"scenario"`
	System   string `json:"system"`
	// OfferedRate is the holds/s of a fixed run (overload, half).
	OfferedRate float64             `json:"offered_rate_per_s,omitempty"`
	Step        *loadgen.StepResult `json:"step,omitempty"`
	Fire        *loadgen.FireResult `json:"fire,omitempty"`
	// CPU is CPU seconds per 1,000 holds by component, over the knee's step or the
	// fixed run.
	CPU   map[string]float64 `json:"cpu_s_per_1000,omitempty"`
	Error string             `json:"error,omitempty"`
}

// Figures are one system's medians over the repeats; NaN where nothing was
// measured.
type Figures struct {
	HotCeiling    float64 `json:"hot_ceiling_per_s"`
	BatchCeiling  float64 `json:"batch_ceiling_per_s"`
	SpreadCeiling float64 `json:"spread_ceiling_per_s"`
	// OverloadOffered is 3x the pipeline's hot ceiling; goodput the visible holds/s
	// within the window; its share is of the system's own hot ceiling.
	OverloadOffered     float64 `json:"overload_offered_per_s"`
	OverloadGoodput     float64 `json:"overload_goodput_per_s"`
	OverloadShare       float64 `json:"overload_goodput_share"`
	OverloadRejectedP99 float64 `json:"overload_rejected_p99_ms"`
	OverloadLost        float64 `json:"overload_lost"`
	HalfAcceptedP50     float64 `json:"half_accepted_p50_ms"`
	HalfAcceptedP99     float64 `json:"half_accepted_p99_ms"`
	HalfVisibleP99      float64 `json:"half_submit_to_visible_p99_ms"`
	// CPU is the median CPU seconds per 1,000 holds by scenario and component.
	CPU map[string]map[string]float64 `json:"cpu_s_per_1000"`
}

// Results are a hot-zone run: every run, and the medians.
type Results struct {
	StartedAt            time.Time          `json:"started_at"`
	StepSeconds          float64            `json:"step_s"`
	Repeats              int                `json:"repeats"`
	Batch                int                `json:"batch"`
	Scenarios            []string           `json:"scenarios"`
	Quick                bool               `json:"quick,omitempty"`
	Rig                  string             `json:"rig"`
	Runs                 []Trial            `json:"runs"`
	Kafka                []KafkaCeiling     `json:"kafka,omitempty"`
	Summary              map[string]Figures `json:"summary"`
	KafkaMedian          *KafkaCeiling      `json:"kafka_median,omitempty"`
	PipelineShareOfKafka float64            `json:"pipeline_share_of_kafka,omitempty"`
}

func newResults(cfg Config) *Results {
	return &Results{StartedAt: time.Now().UTC(), StepSeconds: cfg.StepDuration.Seconds(), Repeats: cfg.Repeats,
		Batch: cfg.Batch, Scenarios: cfg.Scenarios, Quick: cfg.Quick}
}

// summarize computes the medians of every figure over the repeats.
func (r *Results) summarize() {
	r.Summary = map[string]Figures{}
	for _, sys := range []string{SystemPipeline, SystemClassic} {
		f := Figures{CPU: map[string]map[string]float64{}}
		pick := func(sc string, get func(Trial) (float64, bool)) float64 {
			var vals []float64
			for _, run := range r.Runs {
				if run.System == sys && run.Scenario == sc {
					if v, ok := get(run); ok {
						vals = append(vals, v)
					}
				}
			}
			return median(vals)
		}
		ceiling := func(run Trial) (float64, bool) {
			if run.Step == nil || run.Step.Knee < 0 {
				return 0, false
			}
			return run.Step.Ceiling, true
		}
		fire := func(get func(*loadgen.FireResult) float64) func(Trial) (float64, bool) {
			return func(run Trial) (float64, bool) {
				if run.Fire == nil {
					return 0, false
				}
				return get(run.Fire), true
			}
		}
		f.HotCeiling = pick(ScenarioHot, ceiling)
		f.BatchCeiling = pick(ScenarioBatch, ceiling)
		f.SpreadCeiling = pick(ScenarioSpread, ceiling)
		f.OverloadOffered = pick(ScenarioOverload, func(run Trial) (float64, bool) { return run.OfferedRate, run.Fire != nil })
		f.OverloadGoodput = pick(ScenarioOverload, fire(func(x *loadgen.FireResult) float64 { return x.VisiblePerSec }))
		f.OverloadShare = f.OverloadGoodput / f.HotCeiling
		f.OverloadRejectedP99 = pick(ScenarioOverload, fire(func(x *loadgen.FireResult) float64 { return x.RejectedLatency.P99 }))
		f.OverloadLost = pick(ScenarioOverload, fire(func(x *loadgen.FireResult) float64 { return float64(x.Lost) }))
		f.HalfAcceptedP50 = pick(ScenarioHalf, fire(func(x *loadgen.FireResult) float64 { return x.AcceptedLatency.P50 }))
		f.HalfAcceptedP99 = pick(ScenarioHalf, fire(func(x *loadgen.FireResult) float64 { return x.AcceptedLatency.P99 }))
		f.HalfVisibleP99 = pick(ScenarioHalf, fire(func(x *loadgen.FireResult) float64 { return x.SubmitToVisible.P99 }))
		for _, sc := range []string{ScenarioHot, ScenarioBatch, ScenarioSpread, ScenarioOverload, ScenarioHalf} {
			comps := map[string]float64{}
			for _, c := range Components[sys] {
				v := pick(sc, func(run Trial) (float64, bool) { x, ok := run.CPU[c]; return x, ok })
				if !math.IsNaN(v) {
					comps[c] = round4(v)
				}
			}
			if len(comps) > 0 {
				f.CPU[sc] = comps
			}
		}
		r.Summary[sys] = f
	}
	if len(r.Kafka) > 0 {
		k := KafkaCeiling{RecordBytes: r.Kafka[0].RecordBytes, Records: r.Kafka[0].Records}
		get := func(f func(KafkaCeiling) float64) float64 {
			var v []float64
			for _, x := range r.Kafka {
				v = append(v, f(x))
			}
			return median(v)
		}
		k.ProducePerSec = get(func(x KafkaCeiling) float64 { return x.ProducePerSec })
		k.ConsumePerSec = get(func(x KafkaCeiling) float64 { return x.ConsumePerSec })
		k.MBPerSec = get(func(x KafkaCeiling) float64 { return x.MBPerSec })
		r.KafkaMedian = &k
		if raw := min(k.ProducePerSec, k.ConsumePerSec); raw > 0 {
			r.PipelineShareOfKafka = r.Summary[SystemPipeline].HotCeiling / raw
		}
	}
}

// median of the values; NaN for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// Write writes results.json, hot.md and the plots into dir.
func (r *Results) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(jsonSafe(r), "", "  ")
	if err != nil {
		return fmt.Errorf("results.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(raw, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "hot.md"), []byte(r.Markdown()), 0o644); err != nil {
		return err
	}
	return r.writePlots(dir)
}

// jsonSafe is r with every NaN of the summary as -1 (JSON has no NaN).
func jsonSafe(r *Results) *Results {
	c := *r
	c.Summary = map[string]Figures{}
	for sys, f := range r.Summary {
		for _, p := range []*float64{&f.HotCeiling, &f.BatchCeiling, &f.SpreadCeiling, &f.OverloadOffered, &f.OverloadGoodput,
			&f.OverloadShare, &f.OverloadRejectedP99, &f.OverloadLost, &f.HalfAcceptedP50, &f.HalfAcceptedP99, &f.HalfVisibleP99} {
			if math.IsNaN(*p) || math.IsInf(*p, 0) {
				*p = -1
			}
		}
		c.Summary[sys] = f
	}
	if math.IsNaN(c.PipelineShareOfKafka) || math.IsInf(c.PipelineShareOfKafka, 0) {
		c.PipelineShareOfKafka = 0
	}
	return &c
}
