// Package hotbench measures the hot zone, the design's reason to exist: the
// pipeline (ticketd api, processor and sink as processes, Kafka and Postgres in
// Docker) against the classic design (cmd/classic: one SQL transaction with a row
// lock per hold, on the same Postgres), driven side by side in one run by the same
// fire-and-forget load generator (internal/loadgen), with the CPU of every
// component over every scenario. cmd/hotbench is its front door; `make bench`
// runs it as its hot step.
//
// Scenarios, each for both systems, repeated (median): the hot zone's ceiling with
// one hold per request and batched, 64 zones' ceiling, 3x the pipeline's ceiling
// offered (overload), half the ceiling (latency), and Kafka's own ceiling for the
// pipeline's record size. Ceilings come from step mode: the highest rate with 99%
// accepted and every accepted hold visible within 1 s of the step's end.
package hotbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/internal/loadgen"
)

// Scenario names.
const (
	ScenarioHot      = "hot"
	ScenarioBatch    = "batch"
	ScenarioSpread   = "spread"
	ScenarioOverload = "overload"
	ScenarioHalf     = "half"
	ScenarioKafka    = "kafka"
)

// ScenariosAll are every scenario, in the order they run in a repeat (overload and
// half need the hot ceiling of the same repeat).
var ScenariosAll = []string{ScenarioHot, ScenarioBatch, ScenarioSpread, ScenarioOverload, ScenarioHalf, ScenarioKafka}

// Defaults and bounds.
const (
	StepDurationDefault = 10 * time.Second
	RepeatsDefault      = 3
	RepeatsMax          = 9
	BatchDefault        = 100
	SpreadZones         = 64
	// OverloadFactor times the pipeline's single-hold ceiling is offered in the
	// overload scenario.
	OverloadFactor = 3
	// KafkaRecordsDefault are the records of Kafka's ceiling probe.
	KafkaRecordsDefault = 1_000_000
	// holdTTLSeconds is the zones' hold TTL: the longest, so that no hold expires
	// while held+sold is counted.
	holdTTLSeconds = 3600
)

// KafkaCeiling is Kafka's own ceiling for one partition and the pipeline's record
// size (internal/kafkaprobe's figures).
type KafkaCeiling struct {
	RecordBytes   int     `json:"record_bytes"`
	Records       int     `json:"records"`
	ProducePerSec float64 `json:"produce_per_s"`
	ConsumePerSec float64 `json:"consume_per_s"`
	MBPerSec      float64 `json:"mb_per_s"`
}

// KafkaProbe measures Kafka's ceiling (cmd/hotbench wires internal/kafkaprobe).
type KafkaProbe func(ctx context.Context, brokers []string, recordBytes, records int) (KafkaCeiling, error)

// Config is one hot-zone run.
type Config struct {
	// Out is the directory of results.json, hot.md and the plots.
	Out string
	// StepDuration is each step's (and each fixed run's) send phase. Default
	// StepDurationDefault.
	StepDuration time.Duration
	// Repeats of every scenario; the table shows medians. Default RepeatsDefault.
	Repeats int
	// Batch is the holds per request of the batched scenario. Default BatchDefault.
	Batch int
	// Scenarios to run (ScenariosAll by default).
	Scenarios []string
	// Quick is a smoke test: 1 repeat, 3 s steps doubling the rate, a small probe.
	Quick bool
	// Concurrency bounds the generator's requests in flight. Default
	// loadgen.FireConcurrencyDefault.
	Concurrency int
	// KafkaRecords are the records of Kafka's probe. Default KafkaRecordsDefault.
	KafkaRecords int
	// KafkaProbe measures Kafka's ceiling; nil leaves the kafka scenario out.
	KafkaProbe KafkaProbe
	// Progress receives progress lines; Logs the processes' output. nil for none.
	Progress, Logs io.Writer
}

// WithDefaults fills the settings left at zero, and those Quick sets.
func (c Config) WithDefaults() Config {
	if c.Quick {
		c.Repeats = 1
		if c.StepDuration == 0 {
			c.StepDuration = 3 * time.Second
		}
		if c.KafkaRecords == 0 {
			c.KafkaRecords = 100_000
		}
	}
	if c.StepDuration == 0 {
		c.StepDuration = StepDurationDefault
	}
	if c.Repeats == 0 {
		c.Repeats = RepeatsDefault
	}
	if c.Batch == 0 {
		c.Batch = BatchDefault
	}
	if len(c.Scenarios) == 0 {
		c.Scenarios = ScenariosAll
	}
	if c.Concurrency == 0 {
		c.Concurrency = loadgen.FireConcurrencyDefault
	}
	if c.KafkaRecords == 0 {
		c.KafkaRecords = KafkaRecordsDefault
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Logs == nil {
		c.Logs = io.Discard
	}
	return c
}

// Validate checks the settings.
func (c Config) Validate() error {
	var errs []error
	if c.Out == "" {
		errs = append(errs, errors.New("out: a directory is needed"))
	}
	if c.StepDuration < time.Second || c.StepDuration > 5*time.Minute {
		errs = append(errs, fmt.Errorf("step duration %v is not in [1s, 5m]", c.StepDuration))
	}
	if c.Repeats < 1 || c.Repeats > RepeatsMax {
		errs = append(errs, fmt.Errorf("repeats %d is not in [1, %d]", c.Repeats, RepeatsMax))
	}
	if c.Batch < 2 || c.Batch > loadgen.BatchMax {
		errs = append(errs, fmt.Errorf("batch %d is not in [2, %d]", c.Batch, loadgen.BatchMax))
	}
	for _, s := range c.Scenarios {
		if !slices.Contains(ScenariosAll, s) {
			errs = append(errs, fmt.Errorf("scenario %q is not one of %s", s, strings.Join(ScenariosAll, ", ")))
		}
	}
	if c.KafkaRecords < 1000 || c.KafkaRecords > 100_000_000 {
		errs = append(errs, fmt.Errorf("kafka records %d is not in [1000, 100000000]", c.KafkaRecords))
	}
	return errors.Join(errs...)
}

// Run starts the rig, runs the scenarios and writes the results to cfg.Out. The
// results so far are written even when a scenario fails.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rig, err := StartRig(ctx, cfg.Logs, cfg.Progress)
	if err != nil {
		return nil, err
	}
	res := newResults(cfg)
	res.Rig = rig.describe()
	b := &bench{cfg: cfg, rig: rig, res: res}
	runErr := b.run(ctx)
	stopErr := rig.Stop()
	res.summarize()
	writeErr := res.Write(cfg.Out)
	return res, errors.Join(runErr, stopErr, writeErr)
}

// bench is one run's state.
type bench struct {
	cfg Config
	rig *Rig
	res *Results
}

func (b *bench) logf(format string, args ...any) { fmt.Fprintf(b.cfg.Progress, format+"\n", args...) }

// run runs every repeat; a failing scenario is recorded and the others go on.
func (b *bench) run(ctx context.Context) error {
	var errs []error
	for rep := range b.cfg.Repeats {
		ceilings := map[string]float64{}
		for _, sc := range b.cfg.Scenarios {
			if ctx.Err() != nil {
				return errors.Join(append(errs, ctx.Err())...)
			}
			b.logf("\n==> repeat %d/%d: %s", rep+1, b.cfg.Repeats, sc)
			if sc == ScenarioKafka {
				if err := b.kafka(ctx, rep); err != nil {
					errs = append(errs, err)
				}
				continue
			}
			for _, sys := range []string{SystemPipeline, SystemClassic} {
				run := b.scenario(ctx, rep, sc, sys, ceilings)
				if run.Error != "" {
					b.logf("    %s %s: %s", sys, sc, run.Error)
				}
				b.res.Runs = append(b.res.Runs, run)
			}
		}
	}
	return errors.Join(errs...)
}

// scenario runs one scenario on one system. ceilings holds this repeat's hot
// ceilings by system, for overload and half.
func (b *bench) scenario(ctx context.Context, rep int, sc, sys string, ceilings map[string]float64) Trial {
	run := Trial{Repeat: rep + 1, Scenario: sc, System: sys}
	var err error
	switch sc {
	case ScenarioHot, ScenarioBatch, ScenarioSpread:
		err = b.step(ctx, &run)
		if err == nil && sc == ScenarioHot && run.Step.Knee >= 0 {
			ceilings[sys] = run.Step.Ceiling
		}
	case ScenarioOverload:
		if ceilings[SystemPipeline] <= 0 {
			err = errors.New("no hot ceiling of the pipeline in this repeat")
			break
		}
		run.OfferedRate = OverloadFactor * ceilings[SystemPipeline]
		err = b.fixed(ctx, &run)
	case ScenarioHalf:
		if ceilings[sys] <= 0 {
			err = fmt.Errorf("no hot ceiling of %s in this repeat", sys)
			break
		}
		run.OfferedRate = ceilings[sys] / 2
		err = b.fixed(ctx, &run)
	}
	if err != nil {
		run.Error = err.Error()
	}
	return run
}

// shape is a scenario's batch size and zones.
func (b *bench) shape(sc string) (batch, zones int) {
	switch sc {
	case ScenarioBatch:
		return b.cfg.Batch, 1
	case ScenarioSpread:
		return 1, SpreadZones
	}
	return 1, 1
}

func (b *bench) url(sys string) string {
	if sys == SystemClassic {
		return b.rig.ClassicURL
	}
	return b.rig.PipelineURL
}

func (b *bench) fireConfig(run *Trial) loadgen.FireConfig {
	batch, _ := b.shape(run.Scenario)
	return loadgen.FireConfig{URL: b.url(run.System), Duration: b.cfg.StepDuration, Batch: batch,
		Concurrency: b.cfg.Concurrency, Label: fmt.Sprintf("    %s %s", run.System, run.Scenario), Progress: b.cfg.Progress}
}

// newTarget creates a fresh event for a run at rate for one step, its zones large
// enough for every hold offered.
func (b *bench) newTarget(run *Trial) func(context.Context, float64) (loadgen.Target, error) {
	_, zones := b.shape(run.Scenario)
	client := loadgen.NewFireClient(4, 10*time.Second)
	return func(ctx context.Context, rate float64) (loadgen.Target, error) {
		capacity := int64(rate*b.cfg.StepDuration.Seconds()*1.2) + 1000
		return loadgen.CreateTarget(ctx, client, b.url(run.System), b.rig.Token, loadgen.TargetSpec{
			Name:     fmt.Sprintf("hotbench %s %s r%d %d", run.System, run.Scenario, run.Repeat, time.Now().UnixNano()),
			Zones:    zones,
			Capacity: min(capacity, loadgen.CapacityMax), HoldTTLSeconds: holdTTLSeconds,
		})
	}
}

// startRate and factor of a system's steps in a scenario: the pipeline's batches
// start high, the classic design's start where its single holds do (a batch there
// is one transaction per hold).
func (b *bench) startRate(system, sc string) (float64, float64) {
	factor := loadgen.StepFactorDefault
	if b.cfg.Quick {
		factor = 2
	}
	if sc == ScenarioBatch && system == SystemPipeline {
		return 5000, factor
	}
	return 250, factor
}

// step finds a scenario's ceiling; the CPU is that of the knee's step.
func (b *bench) step(ctx context.Context, run *Trial) error {
	start, factor := b.startRate(run.System, run.Scenario)
	var before CPUSnapshot
	cpu := map[int]map[string]float64{}
	res, err := loadgen.Step(ctx, loadgen.StepConfig{
		Fire: b.fireConfig(run), StartRate: start, Factor: factor, NewTarget: b.newTarget(run),
		Before: func(int, float64) { before = b.rig.Meter.Snapshot() },
		After: func(step int, r *loadgen.FireResult) {
			cpu[step] = PerThousand(before, b.rig.Meter.Snapshot(), max(r.Visible, r.Accepted))
		},
	})
	run.Step = res
	if res != nil && res.Knee >= 0 {
		run.CPU = cpu[res.Knee]
		b.logf("    %s %s: ceiling %.0f holds/s (knee at %.0f offered)", run.System, run.Scenario, res.Ceiling, res.KneeRate)
	}
	return err
}

// fixed runs one fire at run.OfferedRate.
func (b *bench) fixed(ctx context.Context, run *Trial) error {
	t, err := b.newTarget(run)(ctx, run.OfferedRate)
	if err != nil {
		return err
	}
	fc := b.fireConfig(run)
	fc.Target, fc.Rate = t, run.OfferedRate
	before := b.rig.Meter.Snapshot()
	res, err := loadgen.Fire(ctx, fc)
	if err != nil {
		return err
	}
	run.Fire = res
	run.CPU = PerThousand(before, b.rig.Meter.Snapshot(), max(res.Visible, res.Accepted))
	b.logf("%s", res.Line())
	return nil
}

// kafka probes Kafka's ceiling for the size of the pipeline's command record.
func (b *bench) kafka(ctx context.Context, rep int) error {
	if b.cfg.KafkaProbe == nil {
		b.logf("    no Kafka probe wired: skipped")
		return nil
	}
	size, err := CommandRecordBytes()
	if err != nil {
		return err
	}
	k, err := b.cfg.KafkaProbe(ctx, b.rig.Brokers, size, b.cfg.KafkaRecords)
	if err != nil {
		return fmt.Errorf("kafka probe: %w", err)
	}
	b.logf("    Kafka, 1 partition, %d-byte records: produce %.0f/s, consume %.0f/s", size, k.ProducePerSec, k.ConsumePerSec)
	b.res.Kafka = append(b.res.Kafka, k)
	_ = rep
	return nil
}
