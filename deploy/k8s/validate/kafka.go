package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// strictFromMap decodes a generic value strictly into v.
func strictFromMap(m any, v any) error {
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return decodeStrict(raw, v)
}

func (s *set) hasTopic(name string) bool {
	for _, t := range s.custom["KafkaTopic"] {
		if topicName(t) == name {
			return true
		}
	}
	return false
}

// topicName is spec.topicName, or the object's name without one.
func topicName(t map[string]any) string {
	if n := str(t, "spec", "topicName"); n != "" {
		return n
	}
	return str(t, "metadata", "name")
}

// checkKafka checks the Strimzi resources: one Kafka cluster that the node pools,
// the topics and KAFKA_BROKERS name, with enough brokers for the replication
// factor, and exactly the topics topics.Declared makes of PARTITIONS and
// REPLICATION_FACTOR.
func (s *set) checkKafka() error {
	clusters := s.custom["Kafka"]
	if len(clusters) != 1 {
		return fmt.Errorf("want one Strimzi Kafka, have %d", len(clusters))
	}
	cluster := str(clusters[0], "metadata", "name")
	var errs []error
	if b := s.configValue("KAFKA_BROKERS"); !hasPrefix(b, brokerHost(cluster)) {
		errs = append(errs, fmt.Errorf("ConfigMap ticketd-config: KAFKA_BROKERS %q, want %s<port>", b, brokerHost(cluster)))
	}
	brokers := 0
	for _, p := range s.custom["KafkaNodePool"] {
		if c := str(p, "metadata", "labels", "strimzi.io/cluster"); c != cluster {
			errs = append(errs, fmt.Errorf("KafkaNodePool %s: cluster %q, want %q", str(p, "metadata", "name"), c, cluster))
		}
		roles, _ := dig(p, "spec", "roles")
		if rs, _ := roles.([]any); slices.Contains(rs, any("broker")) {
			n, _ := dig(p, "spec", "replicas")
			f, _ := n.(float64)
			brokers += int(f)
		}
	}
	topo, err := s.topology()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if brokers < int(topo.ReplicationFactor) {
		errs = append(errs, fmt.Errorf("%d brokers in the node pools, fewer than REPLICATION_FACTOR %d", brokers, topo.ReplicationFactor))
	}
	return errors.Join(append(errs, s.checkTopics(cluster, topo))...)
}

func (s *set) topology() (topics.Topology, error) {
	p, err := s.partitions()
	if err != nil {
		return topics.Topology{}, err
	}
	rf, err := strconv.Atoi(s.configValue("REPLICATION_FACTOR"))
	if err != nil {
		return topics.Topology{}, fmt.Errorf("ConfigMap ticketd-config: REPLICATION_FACTOR: %w", err)
	}
	t := topics.Topology{Partitions: int32(p), ReplicationFactor: int16(rf)}
	if err := t.Validate(); err != nil {
		return t, fmt.Errorf("ConfigMap ticketd-config: %w", err)
	}
	return t, nil
}

// checkTopics compares the KafkaTopics with topics.Declared: same names, partitions,
// replicas and configuration, no topic more or less.
func (s *set) checkTopics(cluster string, topo topics.Topology) error {
	var errs []error
	have := map[string]map[string]any{}
	for _, t := range s.custom["KafkaTopic"] {
		name := topicName(t)
		if c := str(t, "metadata", "labels", "strimzi.io/cluster"); c != cluster {
			errs = append(errs, fmt.Errorf("KafkaTopic %s: cluster %q, want %q", name, c, cluster))
		}
		have[name] = t
	}
	for _, want := range topics.Declared(topo, topics.DefaultNames) {
		t, ok := have[want.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("topic %s of topics.Declared has no KafkaTopic", want.Name))
			continue
		}
		delete(have, want.Name)
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("KafkaTopic %s: %s", want.Name, fmt.Sprintf(format, args...)))
		}
		if p := number(t, "spec", "partitions"); p != int(want.Partitions) {
			bad("partitions %d, topics.Declared says %d", p, want.Partitions)
		}
		if r := number(t, "spec", "replicas"); r != int(topo.ReplicationFactor) {
			bad("replicas %d, REPLICATION_FACTOR is %d", r, topo.ReplicationFactor)
		}
		cfg, _ := dig(t, "spec", "config")
		got := map[string]string{}
		for k, v := range asMap(cfg) {
			got[k] = fmt.Sprint(v)
		}
		wantCfg := map[string]string{}
		for k, v := range want.Configs {
			wantCfg[k] = *v
		}
		if !maps.Equal(got, wantCfg) {
			bad("config %v, topics.Declared says %v", got, wantCfg)
		}
	}
	for name := range have {
		errs = append(errs, fmt.Errorf("KafkaTopic %s is not a topic of topics.Declared", name))
	}
	return errors.Join(errs...)
}

func number(m map[string]any, keys ...string) int {
	v, _ := dig(m, keys...)
	f, _ := v.(float64)
	return int(f)
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
