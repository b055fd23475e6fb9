package queue

import (
	"errors"
	"fmt"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Defaults of Config's bounds.
const (
	// EntriesMaxDefault bounds the queue entries of a partition: about 200 bytes of
	// heap each, so 2,000,000 entries take about 400 MB.
	EntriesMaxDefault = 2_000_000
	// RoomsMaxDefault bounds the waiting rooms of a partition.
	RoomsMaxDefault = 10_000
	// KeysPerAdmissionMaxDefault bounds the idempotency keys one admission remembers
	// (one per debited hold).
	KeysPerAdmissionMaxDefault = 64
	// ExpiredRetentionDefault is how long an expired admission is remembered: longer
	// than a hold can live (topics.HoldTTLMax), so that the credit of a hold placed
	// just before the admission expired still finds its buyer.
	ExpiredRetentionDefault = topics.HoldTTLMax + time.Hour
)

// Config bounds one partition's queue state. A zero field takes its default.
type Config struct {
	// EntriesMax bounds the entries (waiting, admitted and remembered expired) per
	// partition; a join beyond it is rejected with ReasonPartitionFull. Default
	// EntriesMaxDefault.
	EntriesMax int
	// RoomsMax bounds the rooms per partition; configuring one more is rejected with
	// ReasonPartitionFull. Default RoomsMaxDefault.
	RoomsMax int
	// KeysPerAdmissionMax bounds the debits one admission remembers; a debit beyond
	// it is rejected with ReasonAdmissionAllowanceExceeded. Default
	// KeysPerAdmissionMaxDefault.
	KeysPerAdmissionMax int
	// ExpiredRetention is how long an expired admission is remembered (then a hold
	// naming it gets admission_not_found, and a credit to it only credits nothing).
	// Default ExpiredRetentionDefault.
	ExpiredRetention time.Duration
}

// DefaultConfig returns the defaults stated on Config's fields.
func DefaultConfig() Config { return Config{}.withDefaults() }

func (c Config) withDefaults() Config {
	setDefault(&c.EntriesMax, EntriesMaxDefault)
	setDefault(&c.RoomsMax, RoomsMaxDefault)
	setDefault(&c.KeysPerAdmissionMax, KeysPerAdmissionMaxDefault)
	setDefault(&c.ExpiredRetention, ExpiredRetentionDefault)
	return c
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Validate rejects a config, with its defaults filled in, whose values are out of
// range; the error names every setting that is.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{{"EntriesMax", c.EntriesMax}, {"RoomsMax", c.RoomsMax}, {"KeysPerAdmissionMax", c.KeysPerAdmissionMax}} {
		if f.v < 1 {
			errs = append(errs, fmt.Errorf("%s %d must be >= 1", f.name, f.v))
		}
	}
	if c.ExpiredRetention < topics.HoldTTLMax {
		errs = append(errs, fmt.Errorf("ExpiredRetention %v must be >= %v (a hold's longest life)", c.ExpiredRetention, topics.HoldTTLMax))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("queue config: %w", err)
	}
	return nil
}
