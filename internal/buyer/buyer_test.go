package buyer_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ultimate-ticket/ultimate-ticket/internal/buyer"
	"github.com/ultimate-ticket/ultimate-ticket/internal/buyer/buyertest"
)

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func newVerifier(t *testing.T, cfg buyer.Config) *buyer.Verifier {
	t.Helper()
	v, err := buyer.New(context.Background(), cfg, t0)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func fileConfig(path string) buyer.Config {
	return buyer.Config{Issuer: buyertest.Issuer, Audience: buyertest.Audience, JWKSFile: path}
}

// TestVerifiesEachKeyTypeFromFileAndURL proves that tokens signed with Ed25519,
// P-256 and RSA keys give their sub, the keys read from a file or a URL.
func TestVerifiesEachKeyTypeFromFileAndURL(t *testing.T) {
	for _, alg := range []string{"EdDSA", "ES256", "RS256"} {
		idp := buyertest.New(t, alg)
		for name, cfg := range map[string]buyer.Config{"file": fileConfig(idp.WriteJWKS()), "url": idp.Config()} {
			v := newVerifier(t, cfg)
			got, err := v.VerifyHeader(context.Background(), "Bearer "+idp.TokenAt("cust-"+alg, t0, time.Minute), t0)
			if err != nil || got != "cust-"+alg {
				t.Errorf("%s from %s: %q, %v", alg, name, got, err)
			}
		}
	}
}

// TestRefusals proves each refusal has its reason, and that a bad signature is
// reported as invalid whatever else is wrong with the token.
func TestRefusals(t *testing.T) {
	idp, other := buyertest.New(t), buyertest.New(t)
	v := newVerifier(t, fileConfig(idp.WriteJWKS()))
	kid := idp.KeyIDs()[0]
	claims := func(mutate func(*jwt.RegisteredClaims)) jwt.RegisteredClaims {
		c := buyertest.Claims("cust-1", t0, time.Minute)
		mutate(&c)
		return c
	}
	// The other IdP's key under our kid: a forgery that names a known key.
	forged := other.SignWith(other.KeyIDs()[0], claims(func(*jwt.RegisteredClaims) {}))
	_, rest, _ := strings.Cut(forged, ".")
	ourHeader, _, _ := strings.Cut(idp.TokenAt("x", t0, time.Minute), ".")
	forged = ourHeader + "." + rest
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(func(*jwt.RegisteredClaims) {}))
	hs.Header["kid"] = kid
	hs256, _ := hs.SignedString([]byte(idp.JWKS()))
	none := jwt.NewWithClaims(jwt.SigningMethodNone, claims(func(*jwt.RegisteredClaims) {}))
	none.Header["kid"] = kid
	noneToken, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	cases := []struct {
		name, header string
		now          time.Time
		want         buyer.Reason
	}{
		{"no header", "", t0, buyer.ReasonMissing},
		{"empty bearer", "Bearer ", t0, buyer.ReasonMissing},
		{"basic auth", "Basic dXNlcjpwYXNz", t0, buyer.ReasonMalformed},
		{"garbage", "Bearer garbage", t0, buyer.ReasonMalformed},
		{"too long", "Bearer " + strings.Repeat("a", buyer.TokenBytesMax+1), t0, buyer.ReasonMalformed},
		{"other key under our kid", "Bearer " + forged, t0, buyer.ReasonInvalid},
		{"forged and expired", "Bearer " + forged, t0.Add(time.Hour), buyer.ReasonInvalid},
		{"HS256 keyed with the JWKS", "Bearer " + hs256, t0, buyer.ReasonInvalid},
		{"alg none", "Bearer " + noneToken, t0, buyer.ReasonInvalid},
		{"unknown kid", "Bearer " + other.TokenAt("cust-1", t0, time.Minute), t0, buyer.ReasonUnknownKey},
		{"expired past the leeway", "Bearer " + idp.TokenAt("cust-1", t0, time.Minute), t0.Add(time.Minute + buyer.LeewayDefault + time.Second), buyer.ReasonExpired},
		{"wrong issuer", "Bearer " + idp.Sign(claims(func(c *jwt.RegisteredClaims) { c.Issuer = "https://evil.test/" })), t0, buyer.ReasonWrongIssuer},
		{"wrong audience", "Bearer " + idp.Sign(claims(func(c *jwt.RegisteredClaims) { c.Audience = jwt.ClaimStrings{"other-app"} })), t0, buyer.ReasonWrongAudience},
		{"no audience", "Bearer " + idp.Sign(claims(func(c *jwt.RegisteredClaims) { c.Audience = nil })), t0, buyer.ReasonWrongAudience},
		{"no exp", "Bearer " + idp.Sign(claims(func(c *jwt.RegisteredClaims) { c.ExpiresAt = nil })), t0, buyer.ReasonInvalid},
		{"not valid yet", "Bearer " + idp.Sign(claims(func(c *jwt.RegisteredClaims) { c.NotBefore = jwt.NewNumericDate(t0.Add(time.Hour)) })), t0, buyer.ReasonInvalid},
		{"issued in the future", "Bearer " + idp.Sign(claims(func(c *jwt.RegisteredClaims) { c.IssuedAt = jwt.NewNumericDate(t0.Add(time.Hour)) })), t0, buyer.ReasonInvalid},
		{"no sub", "Bearer " + idp.Sign(claims(func(c *jwt.RegisteredClaims) { c.Subject = "" })), t0, buyer.ReasonMalformed},
		{"long sub", "Bearer " + idp.Sign(claims(func(c *jwt.RegisteredClaims) { c.Subject = strings.Repeat("s", buyer.CustomerIDBytesMax+1) })), t0, buyer.ReasonMalformed},
	}
	for _, tc := range cases {
		_, err := v.VerifyHeader(context.Background(), tc.header, tc.now)
		if got := buyer.ReasonOf(err); got != tc.want {
			t.Errorf("%s: reason %q (%v), want %q", tc.name, got, err, tc.want)
		}
	}
	// Within the leeway an expired token still passes (clocks differ).
	if _, err := v.Verify(context.Background(), idp.TokenAt("cust-1", t0, time.Minute), t0.Add(time.Minute+buyer.LeewayDefault-time.Second)); err != nil {
		t.Errorf("within the leeway: %v", err)
	}
}

// TestUnknownKidReloadsBounded proves that a rotated key is picked up by a reload
// on its first use, and that a flood of unknown kids reloads at most once per
// RefreshMin.
func TestUnknownKidReloadsBounded(t *testing.T) {
	idp := buyertest.New(t)
	v := newVerifier(t, idp.Config())
	if idp.Fetches() != 1 {
		t.Fatalf("%d fetches at start", idp.Fetches())
	}
	now := t0.Add(buyer.RefreshMinDefault)
	idp.Rotate("ES256")
	if _, err := v.Verify(context.Background(), idp.TokenAt("cust-1", now, time.Minute), now); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if idp.Fetches() != 2 {
		t.Fatalf("%d fetches after the rotation, want 2", idp.Fetches())
	}
	stranger := buyertest.New(t)
	for i := range 1000 {
		at := now.Add(time.Duration(i) * 100 * time.Millisecond) // 100 s in all
		_, err := v.Verify(context.Background(), stranger.TokenAt("bot", at, time.Minute), at)
		if buyer.ReasonOf(err) != buyer.ReasonUnknownKey {
			t.Fatalf("stranger's token: %v", err)
		}
	}
	// 100 s of unknown kids after a reload at now: reloads at +30, +60, +90 s.
	if got := idp.Fetches(); got != 5 {
		t.Fatalf("%d fetches after the flood, want 5", got)
	}
	if att, failed := v.Reloads(); att != 4 || failed != 0 {
		t.Fatalf("reloads %d (%d failed), want 4 (0)", att, failed)
	}
}

// TestStaleSetReloadsAndForgetsWithdrawnKeys proves that keys older than
// RefreshEvery are reloaded, so a key the provider withdrew stops working.
func TestStaleSetReloadsAndForgetsWithdrawnKeys(t *testing.T) {
	idp := buyertest.New(t)
	old := idp.KeyIDs()[0]
	idp.Rotate("EdDSA")
	v := newVerifier(t, idp.Config())
	idp.Withdraw(old)
	tok := idp.SignWith(old, buyertest.Claims("cust-1", t0, 2*time.Hour))
	if _, err := v.Verify(context.Background(), tok, t0.Add(time.Minute)); err != nil {
		t.Fatalf("before the set is stale: %v", err)
	}
	later := t0.Add(buyer.RefreshEveryDefault)
	if _, err := v.Verify(context.Background(), tok, later); buyer.ReasonOf(err) != buyer.ReasonUnknownKey {
		t.Fatalf("withdrawn key after the reload: %v", err)
	}
}

// TestFailedReloadKeepsTheKeys proves that a provider that cannot be read after
// the start leaves the keys loaded before in use.
func TestFailedReloadKeepsTheKeys(t *testing.T) {
	idp := buyertest.New(t)
	path := idp.WriteJWKS()
	v := newVerifier(t, fileConfig(path))
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(2 * buyer.RefreshEveryDefault)
	if _, err := v.Verify(context.Background(), idp.TokenAt("cust-1", later, time.Minute), later); err != nil {
		t.Fatalf("after a failed reload: %v", err)
	}
	if att, failed := v.Reloads(); att != 1 || failed != 1 {
		t.Fatalf("reloads %d (%d failed), want 1 (1)", att, failed)
	}
	// A rewritten file is read on the next reload.
	idp.Rotate("EdDSA")
	idp.WriteJWKSTo(path)
	again := later.Add(buyer.RefreshMinDefault)
	if _, err := v.Verify(context.Background(), idp.TokenAt("cust-1", again, time.Minute), again); err != nil {
		t.Fatalf("rotated key in the rewritten file: %v", err)
	}
}

// TestUnusableKeysAreSkipped proves that symmetric, encryption and short RSA
// keys are never trusted, and that a set with nothing else is refused at start.
func TestUnusableKeysAreSkipped(t *testing.T) {
	idp := buyertest.New(t)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(idp.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	bad := []map[string]any{
		{"kty": "oct", "kid": "sym", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"},
		{"kty": "OKP", "crv": "Ed25519", "kid": "enc", "use": "enc", "x": set.Keys[0]["x"]},
		{"kty": "RSA", "kid": "short", "n": shortRSA(t), "e": "AQAB"},
	}
	dir := t.TempDir()
	write := func(keys []map[string]any) string {
		doc, _ := json.Marshal(map[string]any{"keys": keys})
		path := filepath.Join(dir, "jwks.json")
		if err := os.WriteFile(path, doc, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	if _, err := buyer.New(context.Background(), fileConfig(write(bad)), t0); err == nil {
		t.Fatal("a set of unusable keys was accepted")
	}
	v := newVerifier(t, fileConfig(write(append(bad, set.Keys...))))
	if _, err := v.Verify(context.Background(), idp.TokenAt("cust-1", t0, time.Minute), t0); err != nil {
		t.Fatalf("the good key beside bad ones: %v", err)
	}
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, buyertest.Claims("cust-1", t0, time.Minute))
	hs.Header["kid"] = "sym"
	tok, _ := hs.SignedString([]byte("secret-secret-secret-secret"))
	if _, err := v.Verify(context.Background(), tok, t0); buyer.ReasonOf(err) != buyer.ReasonInvalid {
		t.Fatalf("HS256 with the published symmetric key: %v", err)
	}
}

// shortRSA is the modulus of a 1024-bit RSA key, base64url.
func shortRSA(t *testing.T) string {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(k.N.Bytes())
}

// TestConfigValidate proves a Config that cannot work is refused at start.
func TestConfigValidate(t *testing.T) {
	good := buyer.Config{Issuer: "i", Audience: "a", JWKSURL: "https://idp.test/jwks"}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*buyer.Config){
		"no issuer":       func(c *buyer.Config) { c.Issuer = "" },
		"no audience":     func(c *buyer.Config) { c.Audience = " " },
		"no source":       func(c *buyer.Config) { c.JWKSURL = "" },
		"two sources":     func(c *buyer.Config) { c.JWKSFile = "/x" },
		"not http":        func(c *buyer.Config) { c.JWKSURL = "file:///etc/jwks" },
		"huge leeway":     func(c *buyer.Config) { c.Leeway = buyer.LeewayMax + time.Second },
		"eager refresh":   func(c *buyer.Config) { c.RefreshMin = time.Millisecond },
		"every under min": func(c *buyer.Config) { c.RefreshMin, c.RefreshEvery = time.Minute, time.Second },
		"symmetric alg":   func(c *buyer.Config) { c.Algorithms = []string{"HS256"} },
		"alg none":        func(c *buyer.Config) { c.Algorithms = []string{"none"} },
		"endless fetch":   func(c *buyer.Config) { c.FetchTimeout = time.Hour },
	} {
		c := good
		mutate(&c)
		if c.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestConcurrentUnknownKidsFetchOnce proves that many verifications meeting an
// unknown kid at once make one fetch between them, not one each.
func TestConcurrentUnknownKidsFetchOnce(t *testing.T) {
	idp := buyertest.New(t)
	v := newVerifier(t, idp.Config())
	stranger := buyertest.New(t)
	now := t0.Add(buyer.RefreshMinDefault)
	tok := stranger.TokenAt("bot", now, time.Minute)
	const verifiers = 32
	done := make(chan error, verifiers)
	for range verifiers {
		go func() {
			_, err := v.Verify(context.Background(), tok, now)
			done <- err
		}()
	}
	for range verifiers {
		if err := <-done; buyer.ReasonOf(err) != buyer.ReasonUnknownKey {
			t.Fatalf("stranger's token: %v", err)
		}
	}
	if got := idp.Fetches(); got != 2 {
		t.Fatalf("%d fetches, want 2 (start and one reload)", got)
	}
}

// FuzzVerify proves that no bearer header makes the Verifier panic and that
// every refusal has a reason.
func FuzzVerify(f *testing.F) {
	idp := buyertest.New(f)
	v, err := buyer.New(context.Background(), fileConfig(idp.WriteJWKS()), t0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("Bearer " + idp.TokenAt("cust-1", t0, time.Minute))
	f.Add("Bearer a.b.c")
	f.Add("bearer ")
	f.Fuzz(func(t *testing.T, header string) {
		sub, err := v.VerifyHeader(context.Background(), header, t0)
		if err != nil && buyer.ReasonOf(err) == "" {
			t.Fatalf("refusal without a reason: %v", err)
		}
		if err == nil && sub == "" {
			t.Fatal("accepted without a customer id")
		}
	})
}

// BenchmarkVerify measures one verification of a buyer's token per key type.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{"EdDSA", "ES256", "RS256"} {
		idp := buyertest.New(b, alg)
		v, err := buyer.New(context.Background(), fileConfig(idp.WriteJWKS()), t0)
		if err != nil {
			b.Fatal(err)
		}
		header := "Bearer " + idp.TokenAt("cust-1", t0, time.Minute)
		b.Run(alg, func(b *testing.B) {
			for b.Loop() {
				if _, err := v.VerifyHeader(context.Background(), header, t0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
