package topics

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestRejectionAvailable proves that a rejection carries "available" exactly when
// the reason is insufficient_capacity, 0 (sold out) included, so a consumer can tell
// "sold out" from "not given".
func TestRejectionAvailable(t *testing.T) {
	for _, tc := range []struct {
		r    Rejection
		want string
	}{
		{Rejection{Reason: ReasonInsufficientCapacity, Message: "sold out"}, `"available":0`},
		{Rejection{Reason: ReasonInsufficientCapacity, Message: "few left", Available: 3}, `"available":3`},
		{Rejection{Reason: ReasonHoldExpired, Message: "expired"}, ""},
	} {
		raw, err := json.Marshal(&tc.r)
		if err != nil {
			t.Fatal(err)
		}
		has := strings.Contains(string(raw), `"available":`)
		if (tc.want == "") == has || (tc.want != "" && !strings.Contains(string(raw), tc.want)) {
			t.Errorf("%s: body %s, want available %q", tc.r.Reason, raw, tc.want)
		}
		var back Rejection
		if err := json.Unmarshal([]byte(`{"reason":"insufficient_capacity","message":"m","available":2}`), &back); err != nil || back.Available != 2 {
			t.Fatalf("decode: %+v %v", back, err)
		}
	}
}
