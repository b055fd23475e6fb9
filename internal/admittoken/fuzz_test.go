package admittoken

import (
	"testing"
	"time"
)

// FuzzVerify proves that no input makes Verify panic, and that whatever it
// accepts is a token the signer made, with claims an admission can have.
func FuzzVerify(f *testing.F) {
	s, err := NewSigner(seed(1))
	if err != nil {
		f.Fatal(err)
	}
	c := claims()
	good := sign(f, s, c)
	f.Add(good)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	v := s.Verifier()
	f.Fuzz(func(t *testing.T, token string) {
		got, err := v.Verify(token, c.EventID, c.CustomerID, t0)
		if err != nil {
			if ReasonOf(err) == "" {
				t.Fatalf("refusal without a reason: %v", err)
			}
			return
		}
		if got.validate() != nil || got.EventID != c.EventID || got.CustomerID != c.CustomerID || !got.ExpiresAt.After(t0.Add(-time.Second)) {
			t.Fatalf("accepted %q with claims %+v", token, got)
		}
	})
}
