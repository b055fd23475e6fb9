package api

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/internal/setting"
)

// TestConfigValidate proves that Validate accepts a Config with only its
// partitions set, fills the defaults, and refuses each bad value or contradiction
// with an error naming the setting first.
func TestConfigValidate(t *testing.T) {
	if err := (Config{Partitions: 1}).Validate(); err != nil {
		t.Fatalf("minimal config: %v", err)
	}
	bad := []struct {
		setting string
		cfg     Config
	}{
		{"Partitions", Config{Partitions: -1}},
		{"Partitions", Config{Partitions: PartitionsMax + 1}},
		{"AdminTokens[0]", Config{AdminTokens: []string{"short"}}},
		{"AdminTokens[1]", Config{AdminTokens: []string{testAdminToken, ""}}},
		{"WaitMax", Config{WaitMax: -time.Second}},
		{"RateBurst", Config{RateBurst: 5}},
		{"RateBurst", Config{RateLimit: 1, RateBurst: -1}},
		{"RateLimit", Config{RateLimit: -1}},
		{"RateLimit", Config{RateLimit: math.Inf(1)}},
		{"WaitPollInterval", Config{WaitMax: time.Millisecond, WaitPollInterval: 5 * time.Millisecond}},
		{"WriteTimeout", Config{WriteTimeout: 30 * time.Second}},
		{"ReadTimeout", Config{ReadTimeout: -1}},
		{"ReadHeaderTimeout", Config{ReadHeaderTimeout: -1}},
		{"IdleTimeout", Config{IdleTimeout: -1}},
		{"HeaderBytesMax", Config{HeaderBytesMax: -1}},
		{"ConnectionsMax", Config{ConnectionsMax: -1}},
		{"TrustedProxies[0]", Config{TrustedProxies: []string{"not-an-ip"}}},
		{"TrustedProxies[1]", Config{TrustedProxies: []string{"10.0.0.1", "10.0.0.0/99"}}},
		{"BodyBytesMax", Config{BodyBytesMax: -1}},
		{"WaitersMax", Config{WaitersMax: -1}},
		{"PublishTimeout", Config{PublishTimeout: -1}},
		{"RateClientsMax", Config{RateClientsMax: -5}},
		{"ReadyTimeout", Config{ReadyTimeout: -1}},
		{"ClockSkewMax", Config{ClockSkewMax: -time.Minute}},
		{"QueryTimeout", Config{QueryTimeout: -1}},
	}
	for _, b := range bad {
		if b.cfg.Partitions == 0 {
			b.cfg.Partitions = testPartitions
		}
		if named := setting.Names(b.cfg.Validate()); len(named) == 0 || named[0] != b.setting {
			t.Errorf("%+v: Validate named %v, want %s", b.cfg, named, b.setting)
		}
	}
	if named := setting.Names(Config{}.Validate()); !slices.Equal(named, []string{"Partitions"}) {
		t.Errorf("Config{}: Validate named %v, want the required Partitions", named)
	}
	ok := Config{Partitions: testPartitions, RateLimit: 100, TrustedProxies: []string{"10.0.0.0/8", "127.0.0.1"}, AdminTokens: []string{testAdminToken}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if d := ok.withDefaults(); d.RateBurst != RateBurstDefault || d.WaitMax != 30*time.Second || d.BodyBytesMax != 64<<10 || d.ClockSkewMax != 2*time.Minute ||
		d.WriteTimeout != 45*time.Second || d.HeaderBytesMax != 16<<10 || d.ConnectionsMax != 10_000 || d.PublishTimeout != 10*time.Second {
		t.Fatalf("defaults %+v", d)
	}
	if d := (Config{Partitions: 1}).withDefaults(); d.RateBurst != 0 {
		t.Errorf("RateBurst %d without a RateLimit", d.RateBurst)
	}
}
