package processor

import (
	"strings"
	"testing"
)

// TestLoopConfigValidate proves that the defaults are valid once brokers are given,
// and that every setting out of range, the state's included, is named at once.
func TestLoopConfigValidate(t *testing.T) {
	if err := (LoopConfig{Brokers: []string{"b:9092"}}).Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	bad := LoopConfig{PollRecordsMax: -1, TransactionTimeout: TransactionTimeoutMin / 2, SunkGrace: -1}
	bad.State.KeysMax = -1
	err := bad.Validate()
	for _, name := range []string{"Brokers", "PollRecordsMax", "TransactionTimeout", "SunkGrace", "KeysMax"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
}
