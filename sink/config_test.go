package sink

import (
	"testing"

	"github.com/ultimate-ticket/ultimate-ticket/internal/setting"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// TestConfigValidate proves that defaults fill the zero fields and that each
// setting that cannot work is refused with an error naming it.
func TestConfigValidate(t *testing.T) {
	ok := Config{Brokers: []string{"b:9092"}, Topics: topics.DefaultNames}
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	if c := ok.withDefaults(); c.Group != GroupDefault || c.BatchRecordsMax != BatchRecordsMaxDefault ||
		c.BatchWait != BatchWaitDefault || c.SessionTimeout != SessionTimeoutDefault || c.Writers != WritersDefault {
		t.Errorf("defaults = %+v", c)
	}
	for name, mutate := range map[string]func(*Config){
		"Brokers":            func(c *Config) { c.Brokers = nil },
		"Topics.Events":      func(c *Config) { c.Topics.Events = "" },
		"Topics.DeadLetters": func(c *Config) { c.Topics.DeadLetters = c.Topics.Events },
		"BatchRecordsMax":    func(c *Config) { c.BatchRecordsMax = BatchRecordsMaxMax + 1 },
		"Writers":            func(c *Config) { c.Writers = WritersMax + 1 },
		"BatchWait":          func(c *Config) { c.BatchWait = -1 },
		"ApplyRetriesMax":    func(c *Config) { c.ApplyRetriesMax = -1 },
		"ApplyBackoffMax":    func(c *Config) { c.ApplyBackoffMax = applyBackoffMin - 1 },
		"DeadLetterWait":     func(c *Config) { c.DeadLetterWait = -1 },
		"SessionTimeout":     func(c *Config) { c.SessionTimeout = -1 },
	} {
		c := ok
		mutate(&c)
		if named := setting.Names(c.Validate()); len(named) != 1 || named[0] != name {
			t.Errorf("%s: Validate named %v", name, named)
		}
	}
}
