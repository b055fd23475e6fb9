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

// TestDefaultFillsOnlyZero proves that Default replaces a zero value and keeps any
// other.
func TestDefaultFillsOnlyZero(t *testing.T) {
	zero, set := 0, 3
	Default(&zero, 7)
	Default(&set, 7)
	if zero != 7 || set != 3 {
		t.Errorf("Default: zero became %d, 3 became %d", zero, set)
	}
}
