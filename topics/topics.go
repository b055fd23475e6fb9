package topics

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Topic names. One place declares them; every component takes them from here.
const (
	Commands    = "ticket.commands"
	Events      = "ticket.events"
	State       = "ticket.processor-state"
	DeadLetters = "ticket.dead-letters"
)

// Names are the topic names one deployment uses: the declared names, or the same
// with a prefix (tests run side by side on one cluster with a prefix each).
type Names struct {
	Commands, Events, State, DeadLetters string
}

// DefaultNames are the declared names without a prefix.
var DefaultNames = NamesWithPrefix("")

// NamesWithPrefix puts prefix in front of every declared name.
func NamesWithPrefix(prefix string) Names {
	return Names{
		Commands:    prefix + Commands,
		Events:      prefix + Events,
		State:       prefix + State,
		DeadLetters: prefix + DeadLetters,
	}
}

// Topology is the shape of the topics: how many partitions the co-partitioned topics
// have and how many replicas every topic keeps.
type Topology struct {
	// Partitions of commands, events and processor state (default 6): the
	// parallelism of the processor. Zones are spread over them by murmur2(zone_id).
	Partitions int32
	// ReplicationFactor of every topic (default 1, a single broker; 3 in production).
	ReplicationFactor int16
}

// DefaultTopology is a single broker with six partitions.
var DefaultTopology = Topology{Partitions: 6, ReplicationFactor: 1}

// Validate rejects a topology that cannot work.
func (t Topology) Validate() error {
	if t.Partitions < 1 || t.Partitions > partitionsMax {
		return fmt.Errorf("topics: partitions %d out of range 1..%d", t.Partitions, partitionsMax)
	}
	if t.ReplicationFactor < 1 {
		return fmt.Errorf("topics: replication factor %d must be at least 1", t.ReplicationFactor)
	}
	return nil
}

const partitionsMax = 1024

// Spec is one declared topic.
type Spec struct {
	Name       string
	Partitions int32
	// CoPartitioned topics must have exactly Topology.Partitions partitions.
	CoPartitioned bool
	Configs       map[string]*string
}

func ptr(s string) *string { return &s }

// Declared lists every topic the system uses, with its configuration.
func Declared(t Topology, n Names) []Spec {
	minISR := "1"
	if t.ReplicationFactor >= 3 {
		minISR = "2"
	}
	return []Spec{
		{Name: n.Commands, Partitions: t.Partitions, CoPartitioned: true, Configs: map[string]*string{
			"retention.ms":        ptr("604800000"), // 7 days: commands can be replayed for audits.
			"min.insync.replicas": ptr(minISR),
		}},
		{Name: n.Events, Partitions: t.Partitions, CoPartitioned: true, Configs: map[string]*string{
			"retention.ms":        ptr("604800000"),
			"min.insync.replicas": ptr(minISR),
		}},
		{Name: n.State, Partitions: t.Partitions, CoPartitioned: true, Configs: map[string]*string{
			// The processor's changelog: the newest record per key is the state.
			"cleanup.policy":            ptr("compact"),
			"min.cleanable.dirty.ratio": ptr("0.1"),
			"segment.ms":                ptr("600000"),
			"min.insync.replicas":       ptr(minISR),
		}},
		{Name: n.DeadLetters, Partitions: 1, Configs: map[string]*string{
			"retention.ms":        ptr("2592000000"), // 30 days, time to look at poison records.
			"min.insync.replicas": ptr(minISR),
		}},
	}
}

// ErrNotCoPartitioned is returned when the co-partitioned topics disagree on their
// partition counts.
var ErrNotCoPartitioned = errors.New("topics: not co-partitioned")

// Ensure creates the declared topics that are missing and checks that the
// co-partitioned ones have the declared partition count. The error names the topic
// and both counts.
func Ensure(ctx context.Context, adm *kadm.Client, t Topology, n Names) error {
	if err := t.Validate(); err != nil {
		return err
	}
	specs := Declared(t, n)
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	existing, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("topics: list: %w", err)
	}
	for _, s := range specs {
		if d, ok := existing[s.Name]; ok && d.Err == nil {
			continue
		}
		resp, err := adm.CreateTopic(ctx, s.Partitions, t.ReplicationFactor, s.Configs, s.Name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("topics: create %s: %w", s.Name, err)
		}
	}
	// New topics reach every broker's metadata a moment after creation.
	var err2 error
	for range metadataRetriesMax {
		if err2 = Check(ctx, adm, t, n); err2 == nil || errors.Is(err2, ErrNotCoPartitioned) {
			return err2
		}
		select {
		case <-ctx.Done():
			return err2
		case <-time.After(metadataRetryWait):
		}
	}
	return err2
}

// Bounds on waiting for created topics to show in metadata: 50 × 200 ms = 10 s.
const (
	metadataRetriesMax = 50
	metadataRetryWait  = 200 * time.Millisecond
)

// Check verifies that every declared topic exists and that the co-partitioned topics
// have the declared partition count.
func Check(ctx context.Context, adm *kadm.Client, t Topology, n Names) error {
	specs := Declared(t, n)
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("topics: list: %w", err)
	}
	for _, s := range specs {
		d, ok := details[s.Name]
		if !ok || d.Err != nil {
			return fmt.Errorf("topics: %s is missing (run `ticketd topics`)", s.Name)
		}
		if s.CoPartitioned && int32(len(d.Partitions)) != t.Partitions {
			return fmt.Errorf("%w: %s has %d partitions, %s expects %d (the commands, events and state topics must all have %d)",
				ErrNotCoPartitioned, s.Name, len(d.Partitions), n.Commands, t.Partitions, t.Partitions)
		}
	}
	return nil
}
