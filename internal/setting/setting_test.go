package setting

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// TestProblemsNameEachSetting proves that the checks record a problem exactly when
// a value is out of bounds, and that Names finds every setting through joining and
// wrapping, in order.
func TestProblemsNameEachSetting(t *testing.T) {
	p := For("pkg")
	Range(p, "InRange", 5, 1, 10)
	Range(p, "Below", 0, 1, 10)
	Range(p, "Above", 11, 1, 10)
	AtLeast(p, "AtLeast", 1, 1)
	AtLeast(p, "Negative", -1, 0)
	Required(p, "Set", "x")
	Required(p, "Empty", "")
	err := fmt.Errorf("wrapped: %w", errors.Join(errors.New("untyped"), p.Err()))
	if got, want := Names(err), []string{"Below", "Above", "Negative", "Empty"}; !slices.Equal(got, want) {
		t.Errorf("Names = %v, want %v", got, want)
	}
	if For("pkg").Err() != nil {
		t.Error("no problem, yet an error")
	}
	var e *Error
	if !errors.As(err, &e) || e.Error() != "pkg: Below 0 is not in [1, 10]" {
		t.Errorf("first error %v", e)
	}
}

// TestFillSetsOnlyZeroFields proves that Fill takes a default for each zero
// field and keeps every field that is set.
func TestFillSetsOnlyZeroFields(t *testing.T) {
	type config struct {
		N    int
		D    string
		List []string
	}
	got := Fill(config{N: 3}, config{N: 7, D: "d", List: []string{"x"}})
	if got.N != 3 || got.D != "d" || !slices.Equal(got.List, []string{"x"}) {
		t.Errorf("Fill = %+v", got)
	}
}
