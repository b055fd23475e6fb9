package app

import (
	"strings"
	"testing"
)

// TestParseConfigNamesEveryBadSetting proves that invalid configuration is refused
// at start with a message naming each setting that is wrong, and that flags
// override the environment.
func TestParseConfigNamesEveryBadSetting(t *testing.T) {
	t.Setenv("PARTITIONS", "7")
	_, err := ParseConfig("all", []string{"-partitions", "0", "-rate-limit", "x", "-kafka-brokers", "nohost",
		"-database-url", "mysql://x", "-http-addr", "8080", "-hold-ttl-default", "2h", "-log-level", "loud"})
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, name := range []string{"PARTITIONS", "RATE_LIMIT", "KAFKA_BROKERS", "DATABASE_URL", "HTTP_ADDR",
		"HOLD_TTL_DEFAULT", "LOG_LEVEL", "ADMIN_TOKEN"} {
		if !strings.Contains(err.Error(), name+":") {
			t.Errorf("error does not name %s:\n%v", name, err)
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
