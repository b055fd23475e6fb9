package api

import (
	"fmt"
	"testing"
)

// TestReadyAnswersDraining proves that an instance that is stopping answers GET
// /ready with 503 and the code draining (whatever wraps ErrDraining), distinct
// from not_ready, so that load balancers and operators can tell the two apart.
func TestReadyAnswersDraining(t *testing.T) {
	f := newFixture(t, Config{})
	f.ready = fmt.Errorf("api: %w", ErrDraining)
	if w := f.do("GET", "/ready", ""); w.Code != 503 || errorCode(t, w) != "draining" {
		t.Fatalf("draining: %d %s", w.Code, w.Body)
	}
}
