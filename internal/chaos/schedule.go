package chaos

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Kind is one kind of fault.
type Kind string

// The faults the run injects. Component faults name a ticketd process (api, p1, p2,
// sink); broker faults name a Kafka node.
const (
	KillComponent     Kind = "kill-9"             // SIGKILL, restarted after Hold
	StopComponent     Kind = "sigstop"            // SIGSTOP, SIGCONT after Hold
	KillBroker        Kind = "broker-kill-9"      // docker kill, started again after Hold
	PauseBroker       Kind = "broker-pause"       // docker pause, unpause after Hold
	RestartBroker     Kind = "broker-restart"     // clean stop, started again after Hold
	CutBroker         Kind = "broker-netcut"      // network disconnect, connect after Hold
	DuplicateInstance Kind = "duplicate-instance" // a second processor with the same INSTANCE for Hold
	ProcessorsDown    Kind = "processors-down"    // both processors killed for Hold (> the TTL)
	RestoreInFailure  Kind = "restore-in-broker-failure"
)

// kinds lists every kind once, in the order a schedule's rounds shuffle.
var kinds = []Kind{KillComponent, StopComponent, KillBroker, PauseBroker, RestartBroker, CutBroker,
	DuplicateInstance, ProcessorsDown, RestoreInFailure}

// components are the ticketd processes a component fault may hit.
var components = []string{"api", "p1", "p2", "sink"}

// processors are the processor instances.
var processors = []string{"p1", "p2"}

// Schedule bounds, all durations.
const (
	firstFaultAfter = 10 * time.Second
	faultGapMin     = 4 * time.Second
	faultGapMax     = 12 * time.Second
	holdMin         = 2 * time.Second
	holdMax         = 20 * time.Second
	// downPastTTL is how much longer than a TTL both processors stay down, at least.
	downPastTTL = 5 * time.Second
	// brokerRecovery is about how long a killed or stopped broker takes to start
	// again, and componentRecovery a process; the schedule leaves a target alone
	// that long after a fault's hold, so that the plan keeps to its duration.
	brokerRecovery    = 30 * time.Second
	componentRecovery = 2 * time.Second
)

// Fault is one planned fault: what, on what, when (from the start of the faults)
// and for how long.
type Fault struct {
	At     time.Duration
	Kind   Kind
	Target string // a component, or "broker-<i>"
	// Second names the processor killed and restored by RestoreInFailure.
	Second string
	Hold   time.Duration
}

func (f Fault) String() string {
	t := f.Target
	if f.Second != "" {
		t += "+" + f.Second
	}
	return fmt.Sprintf("%6.1fs %-26s %-14s for %4.1fs", f.At.Seconds(), f.Kind, t, f.Hold.Seconds())
}

// NewSchedule plans the faults of a run of the given length, from the seed alone:
// the same seed, duration, TTL and broker count give the same schedule. Kinds come in
// shuffled rounds, so that a short run still sees as many different kinds as it has
// faults. Faults on the same target (all brokers count as one, so that the cluster
// keeps its quorum) do not overlap: a fault starts once the one before it on its
// target has healed, or is left out when that is past the end.
func NewSchedule(seed int64, d, ttl time.Duration, brokers int) []Fault {
	r := rand.New(rand.NewPCG(uint64(seed), 0x6368616f73)) // "chaos"
	var out []Fault
	var round []Kind
	busy := map[string]time.Duration{} // lock name -> free from
	for at := firstFaultAfter; at < d; at += between(r, faultGapMin, faultGapMax) {
		if len(round) == 0 {
			round = append(round, kinds...)
			r.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
		}
		f := plan(r, at, round[0], ttl, brokers)
		locks := lockNames(f)
		for _, l := range locks {
			f.At = max(f.At, busy[l])
		}
		if f.At >= d {
			continue // the kind stays first in its round
		}
		round = round[1:]
		for _, l := range locks {
			busy[l] = f.At + f.Hold + recovery(f.Kind)
		}
		out = append(out, f)
	}
	slices.SortStableFunc(out, func(a, b Fault) int { return cmp.Compare(a.At, b.At) })
	return out
}

func recovery(k Kind) time.Duration {
	switch k {
	case KillBroker, RestartBroker, RestoreInFailure:
		return brokerRecovery
	default:
		return componentRecovery
	}
}

func plan(r *rand.Rand, at time.Duration, k Kind, ttl time.Duration, brokers int) Fault {
	f := Fault{At: at, Kind: k, Hold: between(r, holdMin, holdMax)}
	broker := fmt.Sprintf("broker-%d", r.IntN(brokers))
	switch k {
	case KillComponent, StopComponent:
		f.Target = components[r.IntN(len(components))]
	case KillBroker, PauseBroker, RestartBroker, CutBroker:
		f.Target = broker
	case DuplicateInstance:
		f.Target = processors[r.IntN(len(processors))]
		f.Hold = between(r, 5*time.Second, holdMax)
	case ProcessorsDown:
		f.Target = "p1+p2"
		f.Hold = ttl + between(r, downPastTTL, 3*downPastTTL)
	case RestoreInFailure:
		f.Target = broker
		f.Second = processors[r.IntN(len(processors))]
		f.Hold = between(r, 8*time.Second, holdMax)
	}
	return f
}

// between draws a duration in [lo, hi), to the millisecond.
func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.Int64N(int64((hi-lo)/time.Millisecond)))*time.Millisecond
}
