package zone

import (
	"errors"
	"fmt"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Defaults of Config's bounds. The zone defaults (hold TTL, tickets per hold) and the
// idempotency retention are the contract's: topics.HoldTTLDefault,
// topics.HoldQuantityMaxDefault, topics.IdempotencyRetention.
const (
	KeysMaxDefault          = 2_000_000
	HoldsMaxDefault         = 2_000_000
	ResolvedHoldsMaxDefault = 2_000_000
	ZonesMaxDefault         = 100_000
)

// Config bounds one partition's state. A zero field takes its default.
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
	// Default topics.IdempotencyRetention (24h).
	IdempotencyRetention time.Duration
	// KeysMax bounds the idempotency keys remembered per partition. When it is
	// reached, the oldest key is forgotten early if the read model has it
	// (State.SetSunkThrough; Stats.KeysEvictedEarly); otherwise a command with a
	// new key is rejected with ReasonPartitionFull, which is retryable
	// (Stats.KeysRejectedFull): a key is never forgotten while a retry could still
	// decide it a second time. So KeysMax needs to cover the keyed commands of the
	// read model's lag, not of the retention. A key costs about 330 bytes of heap
	// with a 36-byte key (BenchmarkKeyMemory), so the default bounds the keys of a
	// partition to about 660 MB. Default KeysMaxDefault (2,000,000).
	KeysMax int
	// HoldsMax bounds the active holds per partition; a hold beyond it is rejected
	// with ReasonPartitionFull. Default HoldsMaxDefault (2,000,000).
	HoldsMax int
	// ResolvedHoldsMax bounds the confirmed, released and expired holds remembered
	// per partition; when it is reached the oldest resolved hold is forgotten early
	// (Stats.ResolvedEvictedEarly). Default ResolvedHoldsMaxDefault (2,000,000).
	ResolvedHoldsMax int
	// ZonesMax bounds the zones per partition; creating one more is rejected with
	// ReasonPartitionFull. Default ZonesMaxDefault (100,000).
	ZonesMax int
	// PaymentExtension is how long a hold lives at least after its payment started
	// (hold.start_payment): the hold's expires_at becomes max(expires_at, start +
	// PaymentExtension), once. Within [PaymentExtensionMin, PaymentExtensionMax].
	// Default PaymentExtensionDefault (5 minutes).
	PaymentExtension time.Duration
}

// Bounds of Config.PaymentExtension: long enough for a 3-D Secure challenge, short
// enough that an abandoned payment does not keep tickets off sale.
const (
	PaymentExtensionDefault = 5 * time.Minute
	PaymentExtensionMin     = 30 * time.Second
	PaymentExtensionMax     = 30 * time.Minute
)

// DefaultConfig returns the defaults stated on Config's fields.
func DefaultConfig() Config { return Config{}.withDefaults() }

// withDefaults fills every zero field with its default.
func (c Config) withDefaults() Config {
	setDefault(&c.HoldTTLDefault, topics.HoldTTLDefault)
	setDefault(&c.HoldQuantityMaxDefault, topics.HoldQuantityMaxDefault)
	setDefault(&c.IdempotencyRetention, topics.IdempotencyRetention)
	setDefault(&c.KeysMax, KeysMaxDefault)
	setDefault(&c.HoldsMax, HoldsMaxDefault)
	setDefault(&c.ResolvedHoldsMax, ResolvedHoldsMaxDefault)
	setDefault(&c.ZonesMax, ZonesMaxDefault)
	setDefault(&c.PaymentExtension, PaymentExtensionDefault)
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
	if c.PaymentExtension < PaymentExtensionMin || c.PaymentExtension > PaymentExtensionMax {
		errs = append(errs, fmt.Errorf("PaymentExtension %v must lie within [%v, %v]", c.PaymentExtension, PaymentExtensionMin, PaymentExtensionMax))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("zone config: %w", err)
	}
	return nil
}
