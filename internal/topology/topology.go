// Package topology makes the live Kafka topics match the declaration in topics: it
// creates the missing ones (ticketd topics, the tests' environment), sets the
// settings correctness depends on, and checks that the co-partitioned topics have
// the declared partition count (the processor, at start-up).
//
// It is the only code that talks to Kafka's admin API about topics. It lives apart
// from topics so that the contract package needs no Kafka client, and apart from
// processor so that the tests' environment can create topics without importing the
// processor whose tests use it.
package topology

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// ErrNotCoPartitioned is returned when the co-partitioned topics disagree on their
// partition counts.
var ErrNotCoPartitioned = errors.New("topology: not co-partitioned")

// Ensure creates the declared topics that are missing and checks that the
// co-partitioned ones have the declared partition count. The error names the topic
// and both counts.
func Ensure(ctx context.Context, adm *kadm.Client, t topics.Topology, n topics.Names) error {
	if err := t.Validate(); err != nil {
		return err
	}
	specs := topics.Declared(t, n)
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	existing, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("topology: list: %w", err)
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
			return fmt.Errorf("topology: create %s: %w", s.Name, err)
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

// ErrSetting is returned when a topic lacks a required setting and it cannot be set.
type ErrSetting struct {
	Topic, Key, Want, Got string
	Err                   error
}

func (e *ErrSetting) Error() string {
	msg := fmt.Sprintf("topology: %s has %s=%q, want %q", e.Topic, e.Key, e.Got, e.Want)
	if e.Err != nil {
		msg += fmt.Sprintf(" (setting it failed: %v)", e.Err)
	}
	return msg
}

func (e *ErrSetting) Unwrap() error { return e.Err }

// EnsureSettings sets every required setting an existing topic lacks: a commands
// topic created before commands were judged at append time gets LogAppendTime.
// The error names the topic and the setting.
func EnsureSettings(ctx context.Context, adm *kadm.Client, n topics.Names) error {
	for topic, settings := range topics.RequiredSettings(n) {
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
func CheckSettings(ctx context.Context, adm *kadm.Client, n topics.Names) error {
	for topic, settings := range topics.RequiredSettings(n) {
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
		return nil, fmt.Errorf("topology: describe %s: %w", topic, err)
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return nil, fmt.Errorf("topology: describe %s: %w", topic, err)
	}
	out := make(map[string]string, len(rc.Configs))
	for _, c := range rc.Configs {
		out[c.Key] = c.MaybeValue()
	}
	return out, nil
}

// Check verifies that every declared topic exists and that the co-partitioned topics
// have the declared partition count.
func Check(ctx context.Context, adm *kadm.Client, t topics.Topology, n topics.Names) error {
	specs := topics.Declared(t, n)
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("topology: list: %w", err)
	}
	for _, s := range specs {
		d, ok := details[s.Name]
		if !ok || d.Err != nil {
			return fmt.Errorf("topology: %s is missing (run `ticketd topics`)", s.Name)
		}
		if s.CoPartitioned && int32(len(d.Partitions)) != t.Partitions {
			return fmt.Errorf("%w: %s has %d partitions, %s expects %d (the commands, events and state topics must all have %d)",
				ErrNotCoPartitioned, s.Name, len(d.Partitions), n.Commands, t.Partitions, t.Partitions)
		}
	}
	return nil
}
