package admittoken

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// Signer makes admission tokens with one Ed25519 key.
type Signer struct {
	key ed25519.PrivateKey
	kid string
}

// NewSigner makes a Signer from a 32-byte Ed25519 seed (ed25519.SeedSize). The same
// seed gives the same key, so every API instance given it signs alike.
func NewSigner(seed []byte) (*Signer, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("admission token seed of %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	key := ed25519.NewKeyFromSeed(seed)
	return &Signer{key: key, kid: KeyID(key.Public().(ed25519.PublicKey))}, nil
}

// KeyID is the kid of pub: its RFC 7638 JWK thumbprint, base64url without padding.
func KeyID(pub ed25519.PublicKey) string {
	// RFC 7638 §3.2: the required members of an OKP key in lexical order, no spaces.
	x := base64.RawURLEncoding.EncodeToString(pub)
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + x + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// KeyID is the kid the Signer puts in its tokens' header.
func (s *Signer) KeyID() string { return s.kid }

// PublicKey is the key that verifies the Signer's tokens.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// Verifier verifies the Signer's tokens (and no one else's).
func (s *Signer) Verifier() *Verifier { return NewVerifier(s.PublicKey()) }

// Sign makes the token of c. Claims no admission could have (no event, queue or
// customer id, an allowance outside 1..AllowanceMax, a lifetime outside
// 0..LifetimeMax) are an error.
func (s *Signer) Sign(c Claims) (string, error) {
	if err := c.validate(); err != nil {
		return "", fmt.Errorf("sign admission token: %w", err)
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, wireOf(c))
	t.Header["kid"] = s.kid
	signed, err := t.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("sign admission token: %w", err)
	}
	return signed, nil
}
