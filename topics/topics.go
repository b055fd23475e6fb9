package topics

import "fmt"

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

// The topic setting that makes the broker stamp each record with its own clock when
// it appends it, whatever the producer wrote.
const (
	TimestampTypeSetting = "message.timestamp.type"
	LogAppendTime        = "LogAppendTime"
)

// RequiredSettings lists the settings correctness depends on, by topic, which an
// existing topic, created by an older version, may lack.
func RequiredSettings(n Names) map[string]map[string]string {
	return map[string]map[string]string{n.Commands: {TimestampTypeSetting: LogAppendTime}}
}
