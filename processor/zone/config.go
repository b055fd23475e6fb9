package zone

import (
	"errors"
	"fmt"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Config bounds one partition's state. The zero value is not valid; start from
// DefaultConfig.
type Config struct {
	// HoldTTLDefault is a new zone's hold TTL unless its configure command sets one;
	// within [topics.HoldTTLMin, topics.HoldTTLMax]. Default topics.HoldTTLDefault.
	HoldTTLDefault time.Duration
	// HoldQuantityMaxDefault is a new zone's limit of tickets per hold unless its
	// configure command sets one. Default topics.HoldQuantityMaxDefault.
	HoldQuantityMaxDefault int64
	// IdempotencyRetention is how long an idempotency key, and a resolved hold, is
	// remembered after it was decided: it is forgotten once the clock reaches
	// decided+IdempotencyRetention. A key is forgotten before that only once the
	// read model has its decision (see KeysMax), which then answers its retries.
	// Default 24h.
	IdempotencyRetention time.Duration
	// KeysMax bounds the idempotency keys remembered per partition. When it is
	// reached, the oldest key is forgotten early if the read model has it
	// (State.SetSunkThrough; Stats.KeysEvictedEarly); otherwise a command with a
	// new key is rejected with ReasonPartitionFull, which is retryable
	// (Stats.KeysRejectedFull): a key is never forgotten while a retry could still
	// decide it a second time. So KeysMax needs to cover the keyed commands of the
	// read model's lag, not of the retention. A key costs about 330 bytes of heap
	// with a 36-byte key (BenchmarkKeyMemory), so the default bounds the keys of a
	// partition to about 660 MB. Default 2,000,000.
	KeysMax int
	// HoldsMax bounds the active holds per partition; a hold beyond it is rejected
	// with ReasonPartitionFull. Default 2,000,000.
	HoldsMax int
	// ResolvedHoldsMax bounds the confirmed, released and expired holds remembered
	// per partition; when it is reached the oldest resolved hold is forgotten early
	// (Stats.ResolvedEvictedEarly). Default 2,000,000.
	ResolvedHoldsMax int
	// ZonesMax bounds the zones per partition; creating one more is rejected with
	// ReasonPartitionFull. Default 100,000.
	ZonesMax int
}

// DefaultConfig returns the defaults stated on Config's fields.
func DefaultConfig() Config {
	return Config{
		HoldTTLDefault:         topics.HoldTTLDefault,
		HoldQuantityMaxDefault: topics.HoldQuantityMaxDefault,
		IdempotencyRetention:   topics.IdempotencyRetention,
		KeysMax:                2_000_000,
		HoldsMax:               2_000_000,
		ResolvedHoldsMax:       2_000_000,
		ZonesMax:               100_000,
	}
}

// Validate rejects a config whose values contradict each other or are out of range.
func (c Config) Validate() error {
	var errs []error
	if c.HoldTTLDefault < topics.HoldTTLMin || c.HoldTTLDefault > topics.HoldTTLMax || c.HoldTTLDefault%time.Second != 0 {
		errs = append(errs, fmt.Errorf("HoldTTLDefault %v must be whole seconds within [%v, %v]", c.HoldTTLDefault, topics.HoldTTLMin, topics.HoldTTLMax))
	}
	if c.HoldQuantityMaxDefault < topics.HoldQuantityMin || c.HoldQuantityMaxDefault > topics.ZoneCapacityMax {
		errs = append(errs, fmt.Errorf("HoldQuantityMaxDefault %d must lie within [%d, %d]", c.HoldQuantityMaxDefault, topics.HoldQuantityMin, topics.ZoneCapacityMax))
	}
	if c.IdempotencyRetention <= 0 {
		errs = append(errs, fmt.Errorf("IdempotencyRetention %v must be > 0", c.IdempotencyRetention))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"KeysMax", c.KeysMax}, {"HoldsMax", c.HoldsMax}, {"ResolvedHoldsMax", c.ResolvedHoldsMax}, {"ZonesMax", c.ZonesMax}} {
		if f.v < 1 {
			errs = append(errs, fmt.Errorf("%s %d must be >= 1", f.name, f.v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("processor config: %w", err)
	}
	return nil
}
