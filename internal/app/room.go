package app

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/api"
	"github.com/ultimate-ticket/ultimate-ticket/internal/admittoken"
	"github.com/ultimate-ticket/ultimate-ticket/internal/buyer"
	"github.com/ultimate-ticket/ultimate-ticket/internal/pow"
)

// The waiting room's settings: the admission tokens' key, the proof of work and
// the identity provider whose bearer tokens name buyers.

// PowDifficultyDefault is the default of POW_DIFFICULTY: 2^16 hashes, a fraction
// of a second in a browser, a real cost to a bot farm joining a million times.
const PowDifficultyDefault = 16

// powTTL is how long a challenge may be solved and spent.
const powTTL = 5 * time.Minute

// Development keys, used (with a warning at start) when ADMISSION_SIGNING_KEY or
// POW_SECRET is not set: derived from a public string, so every instance of a
// development stack agrees, and no secret at all.
var (
	devAdmissionSeed = sha256.Sum256([]byte("ultimate-ticket development admission key, not a secret"))
	devPowSecret     = sha256.Sum256([]byte("ultimate-ticket development proof-of-work secret, not a secret"))
)

// roomFlags declares the waiting room's string settings on fs.
func (c *Config) roomFlags(set func(p *string, name, env, usage string)) {
	set(&c.AdmissionSigningKey, "admission-signing-key", "ADMISSION_SIGNING_KEY",
		"Ed25519 seed (32 bytes, base64) signing admission tokens; empty: a development key, with a warning")
	set(&c.PowSecret, "pow-secret", "POW_SECRET",
		"HMAC secret (at least 32 bytes) of the proof-of-work challenges; empty: a development secret, with a warning")
	set(&c.BuyerJWKS, "buyer-jwks", "BUYER_JWKS",
		"JWK Set of the identity provider whose bearer tokens name buyers: a file, or an http(s) URL; empty: buyers are self-declared (development only)")
	set(&c.BuyerIssuer, "buyer-issuer", "BUYER_ISSUER", "the iss of buyers' bearer tokens (with BUYER_JWKS)")
	set(&c.BuyerAudience, "buyer-audience", "BUYER_AUDIENCE", "a value the aud of buyers' bearer tokens must hold (with BUYER_JWKS)")
}

// checkRoom checks the waiting room's settings.
func (c Config) checkRoom() error {
	var errs []error
	bad := func(env string, err error) { errs = append(errs, fmt.Errorf("%s: %w", env, err)) }
	if c.AdmissionSigningKey != "" {
		if _, err := admissionSeed(c.AdmissionSigningKey); err != nil {
			bad("ADMISSION_SIGNING_KEY", err)
		}
	}
	if c.PowSecret != "" && len(c.PowSecret) < pow.SecretBytesMin {
		bad("POW_SECRET", fmt.Errorf("%d bytes, at least %d", len(c.PowSecret), pow.SecretBytesMin))
	}
	if c.PowDifficulty < 0 || c.PowDifficulty > pow.DifficultyMax {
		bad("POW_DIFFICULTY", fmt.Errorf("%d is not 0 to %d", c.PowDifficulty, pow.DifficultyMax))
	}
	if c.BuyerRateLimit < 0 {
		bad("BUYER_RATE_LIMIT", fmt.Errorf("%v is negative", c.BuyerRateLimit))
	}
	if c.BuyerJWKS != "" || c.BuyerIssuer != "" || c.BuyerAudience != "" {
		if err := c.buyerConfig().Validate(); err != nil {
			bad("BUYER_JWKS, BUYER_ISSUER, BUYER_AUDIENCE", err)
		}
	}
	return errors.Join(errs...)
}

// admissionSeed decodes ADMISSION_SIGNING_KEY: a 32-byte seed in base64 (standard
// or URL, padded or not) or hex.
func admissionSeed(s string) ([]byte, error) { return admittoken.DecodeKey(s) }

// buyerConfig is the identity provider's configuration: BUYER_JWKS is a URL when
// it has an http or https scheme, else a file.
func (c Config) buyerConfig() buyer.Config {
	bc := buyer.Config{Issuer: c.BuyerIssuer, Audience: c.BuyerAudience}
	if u, err := url.Parse(c.BuyerJWKS); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		bc.JWKSURL = c.BuyerJWKS
	} else {
		bc.JWKSFile = c.BuyerJWKS
	}
	return bc
}

// roomDeps builds the API's waiting room: the token signer, the challenges and the
// buyers' verifier, warning about each development default in use.
func (c Config) roomDeps(ctx context.Context, log *slog.Logger) (*api.RoomDeps, error) {
	seed := devAdmissionSeed[:]
	if c.AdmissionSigningKey == "" {
		log.Warn("ADMISSION_SIGNING_KEY is not set: admission tokens are signed with a public development key; set it in production")
	} else {
		var err error
		if seed, err = admissionSeed(c.AdmissionSigningKey); err != nil {
			return nil, fmt.Errorf("ADMISSION_SIGNING_KEY: %w", err)
		}
	}
	signer, err := admittoken.NewSigner(seed)
	if err != nil {
		return nil, fmt.Errorf("ADMISSION_SIGNING_KEY: %w", err)
	}
	secret := []byte(c.PowSecret)
	if c.PowSecret == "" {
		log.Warn("POW_SECRET is not set: proof-of-work challenges are signed with a public development secret; set it in production")
		secret = devPowSecret[:]
	}
	issuer, err := pow.NewIssuer(secret, c.PowDifficulty, powTTL)
	if err != nil {
		return nil, fmt.Errorf("POW_SECRET, POW_DIFFICULTY: %w", err)
	}
	room := &api.RoomDeps{Signer: signer, PoW: issuer, BuyerRateLimit: c.BuyerRateLimit}
	if c.BuyerJWKS == "" {
		log.Warn("BUYER_JWKS is not set: buyers are self-declared (customer_id in the body); set it in production")
		return room, nil
	}
	v, err := buyer.New(ctx, c.buyerConfig(), time.Now())
	if err != nil {
		return nil, fmt.Errorf("BUYER_JWKS: %w", err)
	}
	room.Buyers = v
	return room, nil
}
