package zone

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// TestEveryReasonHasAChangelogCode proves that every rejection reason of the event
// contract (the request.rejected schema's enum) has a changelog code. A key is written
// with its reason's code, and a reason without one panics the writer on every replay
// of the command: a partition stopped by one new reason.
func TestEveryReasonHasAChangelogCode(t *testing.T) {
	raw, err := topics.Schema(topics.OutRequestRejected)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []topics.Reason
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["reason"].(map[string]any); ok {
				if enum, ok := r["enum"].([]any); ok {
					for _, e := range enum {
						reasons = append(reasons, topics.Reason(e.(string)))
					}
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	walk(doc)
	if len(reasons) < 20 {
		t.Fatalf("found %d reasons in the request.rejected schema: %v", len(reasons), reasons)
	}
	for _, r := range reasons {
		if !slices.Contains(reasonCodes, r) {
			t.Errorf("reason %q has no changelog code (append it to reasonCodes)", r)
		}
	}
	for i, r := range reasonCodes[1:] {
		if slices.Index(reasonCodes, r) != i+1 {
			t.Errorf("reason %q has two codes", r)
		}
	}
}
