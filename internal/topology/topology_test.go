package topology_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/internal/testenv"
	"github.com/ultimate-ticket/ultimate-ticket/internal/topology"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestEnsureCreatesAndIsIdempotent proves that Ensure creates every declared topic
// with its partition count and that running it again changes nothing.
func TestEnsureCreatesAndIsIdempotent(t *testing.T) {
	adm := admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	names := topics.NamesWithPrefix("ensure-")
	topo := topics.Topology{Partitions: 3, ReplicationFactor: 1}
	for range 2 {
		if err := topology.Ensure(ctx, adm, topo, names); err != nil {
			t.Fatal(err)
		}
	}
	details, err := adm.ListTopics(ctx, names.Commands, names.Events, names.State, names.DeadLetters)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range topics.Declared(topo, names) {
		if got := len(details[s.Name].Partitions); int32(got) != s.Partitions {
			t.Errorf("%s: %d partitions, want %d", s.Name, got, s.Partitions)
		}
	}
	cfgs, err := adm.DescribeTopicConfigs(ctx, names.State)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cfgs.On(names.State, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range c.Configs {
		if kv.Key == "cleanup.policy" && kv.MaybeValue() != "compact" {
			t.Errorf("state topic cleanup.policy = %q, want compact", kv.MaybeValue())
		}
	}
}

// TestCheckNamesTopicAndCounts proves that a commands/events partition mismatch is
// refused with an error naming the topic and both counts.
func TestCheckNamesTopicAndCounts(t *testing.T) {
	adm := admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	names := topics.NamesWithPrefix("mismatch-")
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, names.Events); err != nil {
		t.Fatal(err)
	}
	err := topology.Ensure(ctx, adm, topics.Topology{Partitions: 4, ReplicationFactor: 1}, names)
	if !errors.Is(err, topology.ErrNotCoPartitioned) {
		t.Fatalf("Ensure = %v, want ErrNotCoPartitioned", err)
	}
	for _, want := range []string{names.Events, "2 partitions", "expects 4"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func admin(t *testing.T) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(testenv.Kafka(t)...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// TestEnsureSetsLogAppendTime proves that a commands topic created without
// LogAppendTime (by an older version) gets it from Ensure, and that CheckSettings
// names the topic and the setting while it is missing.
func TestEnsureSetsLogAppendTime(t *testing.T) {
	adm := admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	names := topics.NamesWithPrefix("old-commands-")
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, names.Commands); err != nil {
		t.Fatal(err)
	}
	err := topology.CheckSettings(ctx, adm, names)
	var es *topology.ErrSetting
	if !errors.As(err, &es) || es.Topic != names.Commands || es.Key != topics.TimestampTypeSetting {
		t.Fatalf("CheckSettings = %v, want an ErrSetting naming %s and %s", err, names.Commands, topics.TimestampTypeSetting)
	}
	if err := topology.Ensure(ctx, adm, topics.Topology{Partitions: 3, ReplicationFactor: 1}, names); err != nil {
		t.Fatal(err)
	}
	if err := topology.CheckSettings(ctx, adm, names); err != nil {
		t.Fatalf("after Ensure: %v", err)
	}
}
