package roombench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteResults proves that a crowd's results are written as JSON, a Markdown
// table and a plot, and that quantiles pick the nearest rank.
func TestWriteResults(t *testing.T) {
	if q := quantile([]float64{4, 1, 3, 2}, 0.5); q != 2 {
		t.Errorf("median of 1..4 = %v, want 2 (nearest rank)", q)
	}
	if q := quantile([]float64{4, 1, 3, 2}, 1); q != 4 {
		t.Errorf("max of 1..4 = %v", q)
	}
	if got := steadyRate([]int{0, 9, 4, 6, 2}); got != 5 {
		t.Errorf("steady rate %v, want 5 (the burst and the partial last second left out)", got)
	}
	r := &Results{Joiners: 10, Tickets: 4, Rate: 2, Allowance: 2, SellOutSecs: 3.5, Sold: 4, Invariants: "ok",
		PerSecond: []int{2, 2, 1}, SoldAt: []float64{0.5, 1.5, 3.4}, SoldQty: []int64{2, 1, 1}}
	dir := t.TempDir()
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"results.json", "room.md", "room.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if md := r.Markdown(); !strings.Contains(md, "| time to sell out (start to queue.sold_out) | 3.5 s |") {
		t.Errorf("markdown:\n%s", md)
	}
}
