package admittoken

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

func seed(b byte) []byte {
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = b
	}
	return s
}

func newSigner(t *testing.T, b byte) *Signer {
	t.Helper()
	s, err := NewSigner(seed(b))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func claims() Claims {
	return Claims{EventID: uuid.MustParse("0193a000-0000-7000-8000-000000000001"),
		QueueID: uuid.MustParse("0193a000-0000-7000-8000-0000000000aa"), CustomerID: "cust-1",
		Allowance: 4, IssuedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}
}

func sign(t testing.TB, s *Signer, c Claims) string {
	t.Helper()
	tok, err := s.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestRoundTrip proves that a signed token verifies to the claims it was made of,
// for its event and buyer, until its expiry.
func TestRoundTrip(t *testing.T) {
	s := newSigner(t, 1)
	c := claims()
	got, err := s.Verifier().Verify(sign(t, s, c), c.EventID, c.CustomerID, t0.Add(10*time.Minute-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got != c {
		t.Fatalf("claims %+v, want %+v", got, c)
	}
}

// TestSameSeedSameKey proves that instances given one seed verify each other's tokens.
func TestSameSeedSameKey(t *testing.T) {
	a, b := newSigner(t, 7), newSigner(t, 7)
	c := claims()
	if _, err := b.Verifier().Verify(sign(t, a, c), c.EventID, c.CustomerID, t0); err != nil {
		t.Fatal(err)
	}
	if a.KeyID() != b.KeyID() || a.KeyID() == newSigner(t, 8).KeyID() {
		t.Fatal("kid is not a function of the key")
	}
}

// TestKeyIDIsTheRFC7638Thumbprint checks the kid against the example of RFC 8037
// appendix A.3.
func TestKeyIDIsTheRFC7638Thumbprint(t *testing.T) {
	x, _ := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if got, want := KeyID(x), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Fatalf("kid %s, want %s", got, want)
	}
}

// TestRefusals proves each refusal has its reason: forgeries of every kind are
// forged (never expired or wrong event), genuine tokens used wrongly say how.
func TestRefusals(t *testing.T) {
	s, other := newSigner(t, 1), newSigner(t, 2)
	c := claims()
	good := sign(t, s, c)
	parts := strings.Split(good, ".")
	hs256 := func(secret []byte) string {
		tk := jwt.NewWithClaims(jwt.SigningMethodHS256, wireOf(c))
		tk.Header["kid"] = s.KeyID()
		str, err := tk.SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return str
	}
	none := func() string {
		tk := jwt.NewWithClaims(jwt.SigningMethodNone, wireOf(c))
		tk.Header["kid"] = s.KeyID()
		str, err := tk.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return str
	}
	withHeader := func(kid any) string {
		tk := jwt.NewWithClaims(jwt.SigningMethodEdDSA, wireOf(c))
		if kid != nil {
			tk.Header["kid"] = kid
		}
		str, err := tk.SignedString(s.key)
		if err != nil {
			t.Fatal(err)
		}
		return str
	}
	ourKeyOtherIssuer := func() string {
		w := wireOf(c)
		w.Issuer = "someone-else"
		tk := jwt.NewWithClaims(jwt.SigningMethodEdDSA, w)
		tk.Header["kid"] = s.KeyID()
		str, _ := tk.SignedString(s.key)
		return str
	}
	expiredForgery := claims()
	expiredForgery.ExpiresAt = t0.Add(time.Second)
	tampered := claims()
	tampered.Allowance = 400
	tamperedPayload := strings.Split(sign(t, other, tampered), ".")[1]
	cases := []struct {
		name, token, customer string
		event                 uuid.UUID
		now                   time.Time
		want                  Reason
	}{
		{"garbage", "not-a-jwt", c.CustomerID, c.EventID, t0, ReasonMalformed},
		{"empty", "", c.CustomerID, c.EventID, t0, ReasonMalformed},
		{"too long", good + strings.Repeat("A", TokenBytesMax), c.CustomerID, c.EventID, t0, ReasonMalformed},
		{"other key", sign(t, other, c), c.CustomerID, c.EventID, t0, ReasonForged},
		{"other key with our kid", strings.Replace(sign(t, other, c), strings.Split(sign(t, other, c), ".")[0], parts[0], 1), c.CustomerID, c.EventID, t0, ReasonForged},
		{"tampered payload", parts[0] + "." + tamperedPayload + "." + parts[2], c.CustomerID, c.EventID, t0, ReasonForged},
		{"alg none", none(), c.CustomerID, c.EventID, t0, ReasonForged},
		{"HS256 keyed with the public key", hs256(s.PublicKey()), c.CustomerID, c.EventID, t0, ReasonForged},
		{"HS256 keyed with the kid", hs256([]byte(s.KeyID())), c.CustomerID, c.EventID, t0, ReasonForged},
		{"no kid", withHeader(nil), c.CustomerID, c.EventID, t0, ReasonForged},
		{"kid not a string", withHeader(42), c.CustomerID, c.EventID, t0, ReasonForged},
		{"our key, other issuer", ourKeyOtherIssuer(), c.CustomerID, c.EventID, t0, ReasonForged},
		{"expired forgery", sign(t, other, expiredForgery), c.CustomerID, c.EventID, t0.Add(time.Hour), ReasonForged},
		{"expired", good, c.CustomerID, c.EventID, t0.Add(10*time.Minute + time.Second), ReasonExpired},
		{"wrong event", good, c.CustomerID, uuid.New(), t0, ReasonWrongEvent},
		{"wrong buyer", good, "cust-2", c.EventID, t0, ReasonWrongBuyer},
		{"empty buyer", good, "", c.EventID, t0, ReasonWrongBuyer},
	}
	v := s.Verifier()
	for _, tc := range cases {
		_, err := v.Verify(tc.token, tc.event, tc.customer, tc.now)
		if got := ReasonOf(err); got != tc.want {
			t.Errorf("%s: reason %q (%v), want %q", tc.name, got, err, tc.want)
		}
	}
}

// TestRotation proves that a Verifier given the old and the new key accepts
// tokens of both, and one given only the new key calls the old tokens forged.
func TestRotation(t *testing.T) {
	old, cur := newSigner(t, 1), newSigner(t, 2)
	c := claims()
	both := NewVerifier(cur.PublicKey(), old.PublicKey())
	for _, s := range []*Signer{old, cur} {
		if _, err := both.Verify(sign(t, s, c), c.EventID, c.CustomerID, t0); err != nil {
			t.Fatalf("kid %s: %v", s.KeyID(), err)
		}
	}
	if _, err := cur.Verifier().Verify(sign(t, old, c), c.EventID, c.CustomerID, t0); ReasonOf(err) != ReasonForged {
		t.Fatalf("old key after rotation: %v", err)
	}
}

// TestSignRefusesImpossibleClaims proves that Sign never makes a token no
// admission could have, and NewSigner wants a whole seed.
func TestSignRefusesImpossibleClaims(t *testing.T) {
	s := newSigner(t, 1)
	for name, mutate := range map[string]func(*Claims){
		"no event":          func(c *Claims) { c.EventID = uuid.Nil },
		"no queue":          func(c *Claims) { c.QueueID = uuid.Nil },
		"no customer":       func(c *Claims) { c.CustomerID = "" },
		"long customer":     func(c *Claims) { c.CustomerID = strings.Repeat("c", CustomerIDBytesMax+1) },
		"zero allowance":    func(c *Claims) { c.Allowance = 0 },
		"huge allowance":    func(c *Claims) { c.Allowance = AllowanceMax + 1 },
		"expiry first":      func(c *Claims) { c.ExpiresAt = c.IssuedAt },
		"lifetime too long": func(c *Claims) { c.ExpiresAt = c.IssuedAt.Add(LifetimeMax + time.Second) },
	} {
		c := claims()
		mutate(&c)
		if _, err := s.Sign(c); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
	if _, err := NewSigner(make([]byte, 31)); err == nil {
		t.Error("a 31-byte seed made a signer")
	}
}

// BenchmarkSignVerify measures the cost a hold adds to the API: one Verify, and
// one Sign per admission.
func BenchmarkSignVerify(b *testing.B) {
	s, err := NewSigner(seed(1))
	if err != nil {
		b.Fatal(err)
	}
	c := claims()
	b.Run("sign", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Sign(c); err != nil {
				b.Fatal(err)
			}
		}
	})
	tok, v := sign(b, s, c), s.Verifier()
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if _, err := v.Verify(tok, c.EventID, c.CustomerID, t0); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestDecodeKey proves a seed written as hex or any base64 reads back, and that
// anything of another length is refused.
func TestDecodeKey(t *testing.T) {
	want := seed(0xfb)
	for _, s := range []string{
		strings.Repeat("fb", 32), " " + strings.Repeat("FB", 32) + "\n",
		base64.StdEncoding.EncodeToString(want), base64.RawStdEncoding.EncodeToString(want),
		base64.URLEncoding.EncodeToString(want), base64.RawURLEncoding.EncodeToString(want),
	} {
		got, err := DecodeKey(s)
		if err != nil || string(got) != string(want) {
			t.Errorf("DecodeKey(%q) = %x, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "fb", strings.Repeat("fb", 31), base64.StdEncoding.EncodeToString(want[:31]), strings.Repeat("zz", 32)} {
		if _, err := DecodeKey(s); err == nil {
			t.Errorf("DecodeKey(%q) accepted", s)
		}
	}
}
