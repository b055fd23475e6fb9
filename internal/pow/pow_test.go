package pow

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

var (
	t0     = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	event  = uuid.MustParse("0193a000-0000-7000-8000-000000000001")
	secret = bytes.Repeat([]byte{7}, SecretBytesMin)
)

func newIssuer(t testing.TB, difficulty int) *Issuer {
	t.Helper()
	i, err := NewIssuer(secret, difficulty, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// TestSolveVerify proves that a solved challenge is accepted once, with the
// difficulty and issue time it was made with, and that its nonce really has the
// work.
func TestSolveVerify(t *testing.T) {
	i := newIssuer(t, 12)
	c := i.Issue(event, t0)
	if c.Difficulty != 12 || !c.ExpiresAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("challenge %+v", c)
	}
	nonce := Solve(c.Token, c.Difficulty)
	if LeadingZeroBits(c.Token, nonce) < 12 {
		t.Fatal("Solve gave a nonce without the work")
	}
	s, err := i.Check(c.Token, nonce, event, t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if s.Difficulty != 12 || !s.IssuedAt.Equal(t0) {
		t.Fatalf("solved %+v", s)
	}
	if err := i.Verify(c.Token, nonce, event, t0.Add(2*time.Second)); ReasonOf(err) != ReasonReplayed {
		t.Fatalf("second spend: %v", err)
	}
	// Another nonce for the same challenge is the same challenge.
	other := "y"
	for n := 0; LeadingZeroBits(c.Token, other) < c.Difficulty; n++ {
		other = fmt.Sprint("y", n)
	}
	if err := i.Verify(c.Token, other, event, t0.Add(2*time.Second)); ReasonOf(err) != ReasonReplayed {
		t.Fatalf("second spend with another nonce: %v", err)
	}
}

// TestRefusals proves each refusal has its reason, and that a forged or
// tampered token is forged whatever else is wrong with it.
func TestRefusals(t *testing.T) {
	i := newIssuer(t, 8)
	other, err := NewIssuer(bytes.Repeat([]byte{8}, SecretBytesMin), 8, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	good := i.Issue(event, t0)
	forged := other.Issue(event, t0)
	// Lower the difficulty in a genuine payload and keep its MAC.
	p64, m64, _ := strings.Cut(good.Token, ".")
	p, _ := base64.RawURLEncoding.DecodeString(p64)
	p[17] = 0
	tampered := base64.RawURLEncoding.EncodeToString(p) + "." + m64
	unsolved := func(token string, difficulty int) string {
		for n := 0; ; n++ {
			if s := fmt.Sprint("x", n); LeadingZeroBits(token, s) < difficulty {
				return s
			}
		}
	}
	cases := []struct {
		name, token, nonce string
		event              uuid.UUID
		now                time.Time
		want               Reason
	}{
		{"garbage", "garbage", "1", event, t0, ReasonMalformed},
		{"no MAC", p64, "1", event, t0, ReasonMalformed},
		{"bad base64", "!!!." + m64, "1", event, t0, ReasonMalformed},
		{"too long", good.Token + strings.Repeat("A", TokenBytesMax), "1", event, t0, ReasonMalformed},
		{"empty nonce", good.Token, "", event, t0, ReasonMalformed},
		{"long nonce", good.Token, strings.Repeat("1", NonceBytesMax+1), event, t0, ReasonMalformed},
		{"other secret", forged.Token, Solve(forged.Token, 8), event, t0, ReasonForged},
		{"other secret, expired", forged.Token, Solve(forged.Token, 8), event, t0.Add(time.Hour), ReasonForged},
		{"tampered difficulty", tampered, "1", event, t0, ReasonForged},
		{"wrong event", good.Token, Solve(good.Token, 8), uuid.New(), t0, ReasonWrongEvent},
		{"expired", good.Token, Solve(good.Token, 8), event, t0.Add(time.Minute), ReasonExpired},
		{"no work", good.Token, unsolved(good.Token, 8), event, t0, ReasonInsufficientWork},
	}
	for _, tc := range cases {
		err := i.Verify(tc.token, tc.nonce, tc.event, tc.now)
		if got := ReasonOf(err); got != tc.want {
			t.Errorf("%s: reason %q (%v), want %q", tc.name, got, err, tc.want)
		}
	}
	// None of the refusals spent the challenge.
	if err := i.Verify(good.Token, Solve(good.Token, 8), event, t0); err != nil {
		t.Fatalf("the refused attempts spent the challenge: %v", err)
	}
}

// TestDifficultyAdjusts proves a new difficulty applies to new challenges only.
func TestDifficultyAdjusts(t *testing.T) {
	i := newIssuer(t, 4)
	before := i.Issue(event, t0)
	if err := i.SetDifficulty(10); err != nil {
		t.Fatal(err)
	}
	after := i.Issue(event, t0)
	if before.Difficulty != 4 || after.Difficulty != 10 {
		t.Fatalf("difficulties %d, %d", before.Difficulty, after.Difficulty)
	}
	if err := i.Verify(before.Token, Solve(before.Token, 4), event, t0); err != nil {
		t.Fatalf("challenge issued before the change: %v", err)
	}
	if err := i.SetDifficulty(DifficultyMax + 1); err == nil {
		t.Fatal("difficulty over the maximum accepted")
	}
}

// TestSeenSetStaysBounded proves the seen-set never holds more than its bound,
// forgets expired challenges first, and counts what it had to drop early.
func TestSeenSetStaysBounded(t *testing.T) {
	i := newIssuer(t, 0)
	i.seen = newSeenSet(10)
	for n := range 25 {
		c := i.Issue(event, t0)
		if err := i.Verify(c.Token, "0", event, t0.Add(time.Duration(n)*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if l := i.seen.len(); l > 10 {
			t.Fatalf("%d entries, bound 10", l)
		}
	}
	if got := i.SeenEvicted(); got != 15 {
		t.Fatalf("%d evicted, want 15", got)
	}
	// Once the spent challenges expired, they leave without eviction.
	c := i.Issue(event, t0.Add(2*time.Minute))
	if err := i.Verify(c.Token, "0", event, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if l, ev := i.seen.len(), i.SeenEvicted(); l != 1 || ev != 15 {
		t.Fatalf("%d entries and %d evicted after expiry, want 1 and 15", l, ev)
	}
}

// TestNewIssuerValidates proves the settings' bounds are enforced.
func TestNewIssuerValidates(t *testing.T) {
	for name, f := range map[string]func() error{
		"short secret":  func() error { _, err := NewIssuer(secret[:SecretBytesMin-1], 8, time.Minute); return err },
		"ttl too short": func() error { _, err := NewIssuer(secret, 8, time.Millisecond); return err },
		"ttl too long":  func() error { _, err := NewIssuer(secret, 8, TTLMax+time.Second); return err },
		"negative work": func() error { _, err := NewIssuer(secret, -1, time.Minute); return err },
		"too much work": func() error { _, err := NewIssuer(secret, DifficultyMax+1, time.Minute); return err },
	} {
		if f() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// BenchmarkSolve measures the time to solve a challenge per difficulty; the
// hashes/op metric is the work done, 2^difficulty on average.
func BenchmarkSolve(b *testing.B) {
	i := newIssuer(b, 0)
	for _, d := range []int{8, 12, 16, 20} {
		b.Run(fmt.Sprintf("difficulty=%d", d), func(b *testing.B) {
			var hashes uint64
			n := 0
			for b.Loop() {
				c := i.Issue(event, t0)
				var nonce uint64
				fmt.Sscan(Solve(c.Token, d), &nonce)
				hashes += nonce + 1
				n++
			}
			b.ReportMetric(float64(hashes)/float64(n), "hashes/op")
		})
	}
}

// TestConcurrentSpendsSpendOnce proves that of many simultaneous spends of one
// solved challenge exactly one is accepted.
func TestConcurrentSpendsSpendOnce(t *testing.T) {
	i := newIssuer(t, 4)
	c := i.Issue(event, t0)
	nonce := Solve(c.Token, c.Difficulty)
	const spenders = 32
	results := make(chan error, spenders)
	for range spenders {
		go func() { results <- i.Verify(c.Token, nonce, event, t0) }()
	}
	accepted := 0
	for range spenders {
		switch err := <-results; {
		case err == nil:
			accepted++
		case ReasonOf(err) != ReasonReplayed:
			t.Fatalf("refusal %v, want replayed", err)
		}
	}
	if accepted != 1 {
		t.Fatalf("%d spends accepted, want 1", accepted)
	}
}

// TestChallengeJSON pins the body of GET /events/{id}/challenge: the field the
// join sends back is named like the join's body field.
func TestChallengeJSON(t *testing.T) {
	c := Challenge{Token: "t.m", Difficulty: 18, ExpiresAt: t0}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"challenge":"t.m","difficulty":18,"expires_at":"2026-12-03T10:00:00Z"}`; string(b) != want {
		t.Fatalf("%s, want %s", b, want)
	}
}
