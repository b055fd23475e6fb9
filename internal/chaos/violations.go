package chaos

import (
	"fmt"
	"maps"
	"slices"
	"sync"
)

// violationsListedMax bounds the violations listed per invariant; all are counted.
const violationsListedMax = 10

// violations counts broken invariants by name and keeps the first few of each.
type violations struct {
	mu     sync.Mutex
	counts map[string]int
	listed map[string][]string
}

func newViolations() *violations {
	return &violations{counts: make(map[string]int), listed: make(map[string][]string)}
}

func (v *violations) add(invariant, format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.counts[invariant]++
	if len(v.listed[invariant]) < violationsListedMax {
		v.listed[invariant] = append(v.listed[invariant], fmt.Sprintf(format, args...))
	}
}

// Violation is one invariant's count and its first instances.
type Violation struct {
	Invariant string
	Count     int
	Examples  []string
}

func (v *violations) list() []Violation {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []Violation
	for _, k := range slices.Sorted(maps.Keys(v.counts)) {
		out = append(out, Violation{Invariant: k, Count: v.counts[k], Examples: v.listed[k]})
	}
	return out
}
