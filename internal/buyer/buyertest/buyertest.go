// Package buyertest is an identity provider for tests: it makes signing keys,
// publishes them as a JWK Set (a file or an httptest URL) and mints the bearer
// tokens buyer.Verifier accepts, so tests, end-to-end ones included, can act as
// the platform's identity provider.
package buyertest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/ultimate-ticket/ultimate-ticket/internal/buyer"
)

// The issuer and audience of the tokens an IdP mints by default.
const (
	Issuer   = "https://idp.ultimate-ticket.test/"
	Audience = "ultimate-ticket"
	// TokenTTL is the life of the tokens Token mints.
	TokenTTL = 10 * time.Minute
)

// JWKSPath is where the IdP's server publishes its key set.
const JWKSPath = "/.well-known/jwks.json"

type signingKey struct {
	kid    string
	method jwt.SigningMethod
	priv   crypto.Signer
}

// IdP is a test identity provider. Its zero value is not usable: call New.
type IdP struct {
	t testing.TB

	mu        sync.Mutex
	keys      []signingKey // published; the last one signs
	srv       *httptest.Server
	fetches   atomic.Int64
	keysMade  int
	unpublish map[string]bool
}

// New makes an IdP with one signing key of alg ("EdDSA", "ES256" or "RS256";
// default EdDSA).
func New(t testing.TB, alg ...string) *IdP {
	t.Helper()
	p := &IdP{t: t, unpublish: map[string]bool{}}
	a := "EdDSA"
	if len(alg) > 0 {
		a = alg[0]
	}
	p.Rotate(a)
	return p
}

// Rotate makes a new key of alg, publishes it beside the others and signs with
// it from now on; it gives the new kid.
func (p *IdP) Rotate(alg string) string {
	p.t.Helper()
	var k signingKey
	var err error
	switch alg {
	case "EdDSA":
		_, priv, e := ed25519.GenerateKey(rand.Reader)
		k, err = signingKey{method: jwt.SigningMethodEdDSA, priv: priv}, e
	case "ES256":
		priv, e := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		k, err = signingKey{method: jwt.SigningMethodES256, priv: priv}, e
	case "RS256":
		priv, e := rsa.GenerateKey(rand.Reader, 2048)
		k, err = signingKey{method: jwt.SigningMethodRS256, priv: priv}, e
	default:
		p.t.Fatalf("buyertest: algorithm %q not supported", alg)
	}
	if err != nil {
		p.t.Fatalf("buyertest: generate %s key: %v", alg, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keysMade++
	// Random kids, so that two IdPs of a test never share one.
	k.kid = fmt.Sprintf("test-%s-%d-%s", alg, p.keysMade, rand.Text()[:8])
	p.keys = append(p.keys, k)
	return k.kid
}

// Withdraw stops publishing the key kid (it can still sign, with SignWith).
func (p *IdP) Withdraw(kid string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unpublish[kid] = true
}

// KeyIDs are the kids of the keys made, oldest first.
func (p *IdP) KeyIDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ids []string
	for _, k := range p.keys {
		ids = append(ids, k.kid)
	}
	return ids
}

// JWKS is the published key set, public keys only.
func (p *IdP) JWKS() []byte {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	set := jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{}}
	for _, k := range p.keys {
		if p.unpublish[k.kid] {
			continue
		}
		j, err := jwkset.NewJWKFromKey(k.priv.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
			KID: k.kid, ALG: jwkset.ALG(k.method.Alg()), USE: jwkset.UseSig}})
		if err != nil {
			p.t.Fatalf("buyertest: JWK of %s: %v", k.kid, err)
		}
		set.Keys = append(set.Keys, j.Marshal())
	}
	doc, err := json.Marshal(set)
	if err != nil {
		p.t.Fatalf("buyertest: marshal JWK Set: %v", err)
	}
	return doc
}

// WriteJWKS writes the published key set to a file in a test directory and
// gives its path; WriteJWKSTo rewrites it after a Rotate or Withdraw.
func (p *IdP) WriteJWKS() string {
	p.t.Helper()
	path := filepath.Join(p.t.TempDir(), "jwks.json")
	p.WriteJWKSTo(path)
	return path
}

// WriteJWKSTo writes the published key set to path.
func (p *IdP) WriteJWKSTo(path string) {
	p.t.Helper()
	if err := os.WriteFile(path, p.JWKS(), 0o600); err != nil {
		p.t.Fatalf("buyertest: write JWK Set: %v", err)
	}
}

// URL is the address of the published key set, served by an httptest server
// that the test's cleanup closes. It always serves the current keys.
func (p *IdP) URL() string {
	p.mu.Lock()
	if p.srv == nil {
		p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != JWKSPath {
				http.NotFound(w, r)
				return
			}
			p.fetches.Add(1)
			w.Header().Set("Content-Type", "application/jwk-set+json")
			w.Write(p.JWKS())
		}))
		p.t.Cleanup(p.srv.Close)
	}
	u := p.srv.URL + JWKSPath
	p.mu.Unlock()
	return u
}

// Fetches counts the requests for the key set the server answered.
func (p *IdP) Fetches() int64 { return p.fetches.Load() }

// Config is a buyer.Config trusting this IdP through its URL.
func (p *IdP) Config() buyer.Config {
	return buyer.Config{Issuer: Issuer, Audience: Audience, JWKSURL: p.URL()}
}

// Token is a bearer token for customerID, valid for TokenTTL from now.
func (p *IdP) Token(customerID string) string {
	p.t.Helper()
	return p.TokenAt(customerID, time.Now(), TokenTTL)
}

// Header is "Bearer " + Token(customerID), for an Authorization header.
func (p *IdP) Header(customerID string) string { return "Bearer " + p.Token(customerID) }

// TokenAt is a bearer token for customerID issued at now, valid for ttl.
func (p *IdP) TokenAt(customerID string, now time.Time, ttl time.Duration) string {
	p.t.Helper()
	return p.Sign(Claims(customerID, now, ttl))
}

// Claims are the claims Token signs: Issuer, Audience, sub, iat, exp.
func Claims(customerID string, now time.Time, ttl time.Duration) jwt.RegisteredClaims {
	return jwt.RegisteredClaims{Issuer: Issuer, Audience: jwt.ClaimStrings{Audience}, Subject: customerID,
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl))}
}

// Sign signs any claims with the newest key, its kid in the header.
func (p *IdP) Sign(claims jwt.Claims) string {
	p.t.Helper()
	p.mu.Lock()
	kid := p.keys[len(p.keys)-1].kid
	p.mu.Unlock()
	return p.SignWith(kid, claims)
}

// SignWith signs claims with the key kid, its kid in the header.
func (p *IdP) SignWith(kid string, claims jwt.Claims) string {
	p.t.Helper()
	p.mu.Lock()
	i := slices.IndexFunc(p.keys, func(k signingKey) bool { return k.kid == kid })
	var k signingKey
	if i >= 0 {
		k = p.keys[i]
	}
	p.mu.Unlock()
	if i < 0 {
		p.t.Fatalf("buyertest: no key %q", kid)
	}
	t := jwt.NewWithClaims(k.method, claims)
	t.Header["kid"] = k.kid
	s, err := t.SignedString(k.priv)
	if err != nil {
		p.t.Fatalf("buyertest: sign: %v", err)
	}
	return s
}
