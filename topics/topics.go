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
			// A command is judged at the broker's append time (ADR 5).
			TimestampTypeSetting: ptr(LogAppendTime),
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
	if err := EnsureSettings(ctx, adm, n); err != nil {
		return err
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

// The topic setting that makes the broker stamp each record with its own clock when
// it appends it, whatever the producer wrote.
const (
	TimestampTypeSetting = "message.timestamp.type"
	LogAppendTime        = "LogAppendTime"
)

// required lists the settings correctness depends on, which an existing topic,
// created by an older version, may lack.
func required(n Names) map[string]map[string]string {
	return map[string]map[string]string{n.Commands: {TimestampTypeSetting: LogAppendTime}}
}

// ErrSetting is returned when a topic lacks a required setting and it cannot be set.
type ErrSetting struct {
	Topic, Key, Want, Got string
	Err                   error
}

func (e *ErrSetting) Error() string {
	msg := fmt.Sprintf("topics: %s has %s=%q, want %q", e.Topic, e.Key, e.Got, e.Want)
	if e.Err != nil {
		msg += fmt.Sprintf(" (setting it failed: %v)", e.Err)
	}
	return msg
}

func (e *ErrSetting) Unwrap() error { return e.Err }

// EnsureSettings sets every required setting an existing topic lacks: a commands
// topic created before commands were judged at append time gets LogAppendTime.
// The error names the topic and the setting.
func EnsureSettings(ctx context.Context, adm *kadm.Client, n Names) error {
	for topic, settings := range required(n) {
		got, err := topicSettings(ctx, adm, topic)
		if err != nil {
			return err
		}
		for key, want := range settings {
			if got[key] == want {
				continue
			}
			v := want
			resp, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: key, Value: &v}}, topic)
			if err == nil {
				for _, r := range resp {
					err = errors.Join(err, r.Err)
				}
			}
			if err != nil {
				return &ErrSetting{Topic: topic, Key: key, Want: want, Got: got[key], Err: err}
			}
		}
	}
	return nil
}

// CheckSettings verifies the required settings without changing them.
func CheckSettings(ctx context.Context, adm *kadm.Client, n Names) error {
	for topic, settings := range required(n) {
		got, err := topicSettings(ctx, adm, topic)
		if err != nil {
			return err
		}
		for key, want := range settings {
			if got[key] != want {
				return &ErrSetting{Topic: topic, Key: key, Want: want, Got: got[key]}
			}
		}
	}
	return nil
}

func topicSettings(ctx context.Context, adm *kadm.Client, topic string) (map[string]string, error) {
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("topics: describe %s: %w", topic, err)
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return nil, fmt.Errorf("topics: describe %s: %w", topic, err)
	}
	out := make(map[string]string, len(rc.Configs))
	for _, c := range rc.Configs {
		out[c.Key] = c.MaybeValue()
	}
	return out, nil
}

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
