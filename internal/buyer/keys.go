package buyer

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/MicahParks/jwkset"
)

// Bounds of a key set.
const (
	// JWKSBytesMax bounds the JWK Set document read.
	JWKSBytesMax = 1 << 20
	// KeysMax bounds the keys kept from one document.
	KeysMax = 100
	// rsaBitsMin refuses RSA keys too short to trust.
	rsaBitsMin = 2048
)

// key is one usable verification key.
type key struct {
	alg string // "" when the JWK does not restrict it
	pub any    // ed25519.PublicKey, *ecdsa.PublicKey or *rsa.PublicKey
}

// keySet is the keys of one load, by kid.
type keySet struct {
	byKID    map[string]key
	loadedAt time.Time
}

// parseJWKS reads the usable signature keys of a JWK Set. Keys for encryption,
// symmetric keys, key types this package cannot verify with and short RSA keys
// are skipped; a set with none left is an error.
func parseJWKS(doc []byte, now time.Time) (*keySet, error) {
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("parse JWK Set: %w", err)
	}
	ks := &keySet{byKID: make(map[string]key), loadedAt: now}
	var skipped []error
	for i, m := range set.Keys {
		if len(ks.byKID) == KeysMax {
			break
		}
		k, err := parseJWK(m)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %d (kid %q): %w", i, m.KID, err))
			continue
		}
		if _, dup := ks.byKID[m.KID]; dup {
			skipped = append(skipped, fmt.Errorf("key %d: kid %q twice", i, m.KID))
			continue
		}
		ks.byKID[m.KID] = k
	}
	if len(ks.byKID) == 0 {
		return nil, fmt.Errorf("JWK Set has no usable signature key: %w", errors.Join(skipped...))
	}
	return ks, nil
}

func parseJWK(m jwkset.JWKMarshal) (key, error) {
	if m.USE != "" && m.USE != jwkset.UseSig {
		return key{}, fmt.Errorf("use %q", m.USE)
	}
	if m.KTY == jwkset.KtyOct {
		return key{}, errors.New("symmetric key")
	}
	// Private: false ignores any private part: only public keys are kept.
	j, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		return key{}, err
	}
	switch pub := j.Key().(type) {
	case ed25519.PublicKey, *ecdsa.PublicKey:
	case *rsa.PublicKey:
		if pub.N.BitLen() < rsaBitsMin {
			return key{}, fmt.Errorf("RSA key of %d bits, at least %d", pub.N.BitLen(), rsaBitsMin)
		}
	default:
		return key{}, fmt.Errorf("key type %T cannot verify signatures", pub)
	}
	return key{alg: string(m.ALG), pub: j.Key()}, nil
}

// find is the key of kid; a token without a kid may use the only key of a set.
func (ks *keySet) find(kid string) (key, bool) {
	if k, ok := ks.byKID[kid]; ok {
		return k, true
	}
	if kid == "" && len(ks.byKID) == 1 {
		for _, k := range ks.byKID {
			return k, true
		}
	}
	return key{}, false
}

// fetch reads the JWK Set document of c, at most JWKSBytesMax bytes.
func fetch(ctx context.Context, c Config) ([]byte, error) {
	var r io.Reader
	if c.JWKSFile != "" {
		f, err := os.Open(c.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("read JWK Set: %w", err)
		}
		defer f.Close()
		r = f
	} else {
		ctx, cancel := context.WithTimeout(ctx, c.FetchTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.JWKSURL, nil)
		if err != nil {
			return nil, fmt.Errorf("fetch JWK Set: %w", err)
		}
		req.Header.Set("Accept", "application/jwk-set+json, application/json")
		resp, err := c.HTTPClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("fetch JWK Set: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("fetch JWK Set %s: status %d", c.JWKSURL, resp.StatusCode)
		}
		r = resp.Body
	}
	doc, err := io.ReadAll(io.LimitReader(r, JWKSBytesMax+1))
	if err != nil {
		return nil, fmt.Errorf("read JWK Set: %w", err)
	}
	if len(doc) > JWKSBytesMax {
		return nil, fmt.Errorf("JWK Set over %d bytes", JWKSBytesMax)
	}
	return doc, nil
}
