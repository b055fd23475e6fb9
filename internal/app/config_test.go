package app

import (
	"strings"
	"testing"

	"github.com/ultimate-ticket/ultimate-ticket/processor/zone"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// TestParseConfigNamesEveryBadSetting proves that invalid configuration is refused
// at start with a message naming each setting that is wrong (whether ticketd
// checks it or the package it configures does), and that flags override the
// environment.
func TestParseConfigNamesEveryBadSetting(t *testing.T) {
	t.Setenv("PARTITIONS", "7")
	for _, tc := range []struct {
		args  []string
		names []string
	}{
		{[]string{"-partitions", "0", "-rate-limit", "x", "-kafka-brokers", "nohost",
			"-database-url", "mysql://x", "-http-addr", "8080", "-hold-ttl-default", "2h", "-log-level", "loud",
			"-shutdown-timeout", "0s", "-drain-delay", "-1s"},
			[]string{"PARTITIONS", "RATE_LIMIT", "KAFKA_BROKERS", "DATABASE_URL", "HTTP_ADDR",
				"HOLD_TTL_DEFAULT", "LOG_LEVEL", "ADMIN_TOKEN", "SHUTDOWN_TIMEOUT", "DRAIN_DELAY"}},
		{[]string{"-admin-token", "short", "-trusted-proxies", "10.0.0.0/99", "-replication-factor", "0",
			"-rate-limit", "-1", "-rate-burst", "y", "-partitions", "1025", "-hold-ttl-default", "1s", "-kafka-brokers", ","},
			[]string{"ADMIN_TOKEN", "TRUSTED_PROXIES", "REPLICATION_FACTOR", "RATE_LIMIT", "RATE_BURST",
				"PARTITIONS", "HOLD_TTL_DEFAULT", "KAFKA_BROKERS"}},
	} {
		_, err := ParseConfig("all", tc.args)
		if err == nil {
			t.Fatalf("invalid configuration %v accepted", tc.args)
		}
		for _, name := range tc.names {
			if !strings.Contains(err.Error(), name+":") {
				t.Errorf("%v: error does not name %s:\n%v", tc.args, name, err)
			}
		}
	}
	cfg, err := ParseConfig("processor", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Partitions != 7 || cfg.HTTPAddr != ":8080" || !strings.HasPrefix(cfg.DatabaseURL, "postgres://ultimate_ticket:") {
		t.Errorf("defaults and environment: %+v", cfg)
	}
}

// TestParseConfigDefaultsAreThePackages proves that the defaults ticketd starts
// with are the ones the packages state.
func TestParseConfigDefaultsAreThePackages(t *testing.T) {
	cfg, err := ParseConfig("processor", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.topology(); got != topics.DefaultTopology {
		t.Errorf("topology %+v, topics says %+v", got, topics.DefaultTopology)
	}
	if got, want := cfg.processorState(), zone.DefaultConfig(); got != want {
		t.Errorf("state config %+v, processor says %+v", got, want)
	}
}
