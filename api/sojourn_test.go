package api

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestSojournRefusesWhileEverySubmitIsSlow(t *testing.T) {
	// Refusing starts once the fastest submit of an interval was over the target,
	// lets a trickle through, and ends at the first submit within the target. One
	// slow submit among fast ones changes nothing; an idle interval neither.
	t0 := time.Unix(0, 0)
	s := newSojourn(50*time.Millisecond, 500*time.Millisecond, t0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

	many := func(d time.Duration, ms int) {
		for range sojournSamplesMin {
			s.observe(d, at(ms))
		}
	}
	many(time.Second, 100)
	s.observe(10*time.Millisecond, at(200))
	if !s.admits(1000, at(600)) {
		t.Fatal("refusing after an interval with a fast submit")
	}
	many(80*time.Millisecond, 700)
	s.observe(60*time.Millisecond, at(900))
	if !s.admits(1000, at(1000)) {
		t.Fatal("refusing before the interval ended")
	}
	if s.admits(1000, at(1150)) {
		t.Fatal("admitting after an interval whose fastest submit took 60 ms")
	}
	if !s.admits(sojournTrickle, at(1150)) {
		t.Fatal("no trickle admitted while refusing")
	}
	s.observe(40*time.Millisecond, at(1200))
	if !s.admits(1000, at(1210)) {
		t.Fatal("still refusing after a submit within the target")
	}
	if !s.admits(1000, at(5000)) {
		t.Fatal("refusing after idle intervals")
	}
	// A few slow submits of a quiet API are not judged.
	s.observe(time.Second, at(5100))
	if !s.admits(1000, at(6000)) {
		t.Fatal("refusing after an interval of one slow submit")
	}
}

func TestSlowPublishesTurnSubmitsAway(t *testing.T) {
	// When every publish takes longer than AdmissionTarget, submits are answered
	// 503 overloaded with Retry-After once an interval has shown it, without a
	// key lookup or a publish; only a trickle (up to sojournTrickle commands in
	// flight) still goes through: here a batch of 100 holds is over it.
	// Every batch takes longer than a target of 1 ns.
	f := newFixture(t, Config{AdmissionTarget: time.Nanosecond, AdmissionInterval: 200 * time.Millisecond})
	holds := make([]string, 100)
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		for j := range holds {
			holds[j] = f.holdJSONFor(f.zone, 1, fmt.Sprintf("slow-%d-%d", i, j))
		}
		w := f.do(http.MethodPost, "/holds/batch", batchBody(holds...))
		if w.Code == http.StatusServiceUnavailable {
			if errorCode(t, w) != "overloaded" || w.Header().Get("Retry-After") == "" {
				t.Fatalf("503 %s without overloaded and Retry-After", w.Body)
			}
			break
		}
		if w.Code != http.StatusAccepted {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if time.Now().After(deadline) {
			t.Fatal("slow publishes never turned a submit away")
		}
	}
}
