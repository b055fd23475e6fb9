package pow

import (
	"testing"
	"time"
)

// FuzzVerify proves that no token or nonce makes Verify panic, that every
// refusal has a reason, and that an accepted solution has the work its genuine
// token asks for.
func FuzzVerify(f *testing.F) {
	i := newIssuer(f, 4)
	c := i.Issue(event, t0)
	f.Add(c.Token, Solve(c.Token, 4))
	f.Add(c.Token, "0")
	f.Add("AQ.AQ", "1")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, token, nonce string) {
		err := i.Verify(token, nonce, event, t0.Add(time.Second))
		if err != nil {
			if ReasonOf(err) == "" {
				t.Fatalf("refusal without a reason: %v", err)
			}
			return
		}
		cl, err := open(i.secret, token)
		if err != nil || LeadingZeroBits(token, nonce) < cl.difficulty {
			t.Fatalf("accepted %q %q without its work (%v)", token, nonce, err)
		}
	})
}
