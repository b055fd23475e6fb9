package loadgen

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Defaults and bounds of a step run.
const (
	// StepFactorDefault multiplies the rate from one step to the next.
	StepFactorDefault = 1.5
	// StepsMaxDefault bounds the steps of one run.
	StepsMaxDefault = 20
	// AcceptedMinDefault is the share of offered holds a passing step accepts.
	AcceptedMinDefault = 0.99
	// VisibleWithinDefault is how soon after a passing step's end every accepted
	// hold is visible.
	VisibleWithinDefault = time.Second
	// StepPauseDefault is the pause between two steps, for the queues to settle.
	StepPauseDefault = 2 * time.Second
)

// StepConfig finds the knee: steps of Fire at a rate that grows by Factor, each
// Fire.Duration long, until the first step that fails.
type StepConfig struct {
	// Fire is each step's run; its Rate and Target are set per step.
	Fire FireConfig
	// StartRate is the first step's holds/s.
	StartRate float64
	// Factor multiplies the rate per step (> 1). Default StepFactorDefault.
	Factor float64
	// StepsMax bounds the steps. Default StepsMaxDefault.
	StepsMax int
	// AcceptedMin and VisibleWithin make a step pass (see FireResult.Passed).
	// Defaults AcceptedMinDefault and VisibleWithinDefault.
	AcceptedMin   float64
	VisibleWithin time.Duration
	// Pause between two steps. Default StepPauseDefault.
	Pause time.Duration
	// NewTarget gives each step a fresh event, sized for the step's holds; nil uses
	// Fire.Target for every step.
	NewTarget func(ctx context.Context, rate float64) (Target, error)
	// Before and After, when set, are called around each step (the rig measures
	// the CPU of the components over each step with them).
	Before func(step int, rate float64)
	After  func(step int, res *FireResult)
}

// WithDefaults fills the settings left at zero.
func (c StepConfig) WithDefaults() StepConfig {
	if c.Factor == 0 {
		c.Factor = StepFactorDefault
	}
	if c.StepsMax == 0 {
		c.StepsMax = StepsMaxDefault
	}
	if c.AcceptedMin == 0 {
		c.AcceptedMin = AcceptedMinDefault
	}
	if c.VisibleWithin == 0 {
		c.VisibleWithin = VisibleWithinDefault
	}
	if c.Pause == 0 {
		c.Pause = StepPauseDefault
	}
	return c
}

// Validate checks the step settings (each step's Fire settings are checked by Fire).
func (c StepConfig) Validate() error {
	var errs []error
	if c.StartRate <= 0 || c.StartRate > FireRateMax {
		errs = append(errs, fmt.Errorf("start rate %v is not in (0, %d]", c.StartRate, FireRateMax))
	}
	if c.Factor <= 1 || c.Factor > 10 {
		errs = append(errs, fmt.Errorf("factor %v is not in (1, 10]", c.Factor))
	}
	if c.StepsMax < 1 || c.StepsMax > 100 {
		errs = append(errs, fmt.Errorf("steps max %d is not in [1, 100]", c.StepsMax))
	}
	if c.AcceptedMin <= 0 || c.AcceptedMin > 1 {
		errs = append(errs, fmt.Errorf("accepted min %v is not in (0, 1]", c.AcceptedMin))
	}
	if c.VisibleWithin <= 0 || c.VisibleWithin > time.Minute {
		errs = append(errs, fmt.Errorf("visible within %v is not in (0, 1m]", c.VisibleWithin))
	}
	if c.Pause < 0 || c.Pause > time.Minute {
		errs = append(errs, fmt.Errorf("pause %v is not in [0, 1m]", c.Pause))
	}
	return errors.Join(errs...)
}

// StepResult is a step run: every step, and the knee.
type StepResult struct {
	Steps []*FireResult `json:"steps"`
	// Knee is the index in Steps of the highest passing step, -1 when none passed.
	Knee int `json:"knee"`
	// KneeRate is its offered holds/s; Ceiling its end-to-end (visible) holds/s.
	KneeRate float64 `json:"knee_rate_per_s"`
	Ceiling  float64 `json:"ceiling_per_s"`
}

// KneeStep is the knee's step, nil when none passed.
func (r *StepResult) KneeStep() *FireResult {
	if r.Knee < 0 {
		return nil
	}
	return r.Steps[r.Knee]
}

// Step runs the steps and returns the knee. A step that cannot run (its target or
// its settings) ends the run with an error and the steps so far.
func Step(ctx context.Context, cfg StepConfig) (*StepResult, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	res := &StepResult{Knee: -1}
	rate := cfg.StartRate
	for step := range cfg.StepsMax {
		if rate > FireRateMax {
			break
		}
		fc := cfg.Fire
		fc.Rate = rate
		fc.Label = fmt.Sprintf("%s step %d", cfg.Fire.Label, step+1)
		fc.Tag = ""
		if cfg.NewTarget != nil {
			t, err := cfg.NewTarget(ctx, rate)
			if err != nil {
				return res, fmt.Errorf("step %d (%.0f holds/s): target: %w", step+1, rate, err)
			}
			fc.Target = t
		}
		if cfg.Before != nil {
			cfg.Before(step, rate)
		}
		r, err := Fire(ctx, fc)
		if err != nil {
			return res, fmt.Errorf("step %d (%.0f holds/s): %w", step+1, rate, err)
		}
		if cfg.After != nil {
			cfg.After(step, r)
		}
		res.Steps = append(res.Steps, r)
		if fc.Progress != nil {
			fmt.Fprintln(fc.Progress, r.Line())
		}
		if !r.Passed(cfg.AcceptedMin, cfg.VisibleWithin) || ctx.Err() != nil {
			break
		}
		res.Knee, res.KneeRate, res.Ceiling = step, r.Rate, r.VisiblePerSec
		rate *= cfg.Factor
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(cfg.Pause):
		}
	}
	return res, ctx.Err()
}
