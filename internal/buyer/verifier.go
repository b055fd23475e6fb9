package buyer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Bounds of what a token may be.
const (
	// TokenBytesMax bounds a token parsed; longer ones are malformed.
	TokenBytesMax = 8 << 10
	// CustomerIDBytesMax bounds the sub, like every text the system stores.
	CustomerIDBytesMax = 200
)

// Verifier checks buyers' bearer tokens. It is safe for concurrent use.
type Verifier struct {
	cfg  Config
	keys atomic.Pointer[keySet]

	// reload is held by the one verification reloading the keys; the others go
	// on with the keys they have.
	reload      sync.Mutex
	lastAttempt time.Time // under reload
	reloads     atomic.Uint64
	reloadErrs  atomic.Uint64
}

// New validates cfg and loads the keys once: a provider that cannot be read at
// start is an error, so a misconfigured API does not start.
func New(ctx context.Context, cfg Config, now time.Time) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	v := &Verifier{cfg: cfg.withDefaults(), lastAttempt: now}
	ks, err := v.load(ctx, now)
	if err != nil {
		return nil, err
	}
	v.keys.Store(ks)
	return v, nil
}

func (v *Verifier) load(ctx context.Context, now time.Time) (*keySet, error) {
	doc, err := fetch(ctx, v.cfg)
	if err != nil {
		return nil, err
	}
	return parseJWKS(doc, now)
}

// VerifyHeader verifies the value of an Authorization header ("Bearer <jwt>")
// and gives the customer id.
func (v *Verifier) VerifyHeader(ctx context.Context, authorization string, now time.Time) (string, error) {
	if authorization == "" {
		return "", refuse(ReasonMissing, errors.New("no Authorization header"))
	}
	scheme, token, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", refuse(ReasonMalformed, errors.New("the Authorization header is not a Bearer token"))
	}
	return v.Verify(ctx, strings.TrimSpace(token), now)
}

// Verify verifies a bearer token at now and gives the customer id (its sub). A
// refusal is an *Error with its Reason; the signature is checked before the
// claims, so a forged token is never reported as expired.
func (v *Verifier) Verify(ctx context.Context, token string, now time.Time) (string, error) {
	if token == "" {
		return "", refuse(ReasonMissing, errors.New("empty bearer token"))
	}
	if len(token) > TokenBytesMax {
		return "", refuse(ReasonMalformed, fmt.Errorf("token of %d bytes, at most %d", len(token), TokenBytesMax))
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &claims, v.keyfunc(ctx, now),
		jwt.WithValidMethods(v.cfg.Algorithms), jwt.WithIssuer(v.cfg.Issuer),
		jwt.WithAudience(v.cfg.Audience), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithLeeway(v.cfg.Leeway), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		r := reasonOfJWT(err)
		if r == ReasonInvalid && errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && len(claims.Audience) == 0 {
			// A genuine token without aud is for no audience, so not for us.
			r = ReasonWrongAudience
		}
		return "", refuse(r, err)
	}
	if claims.Subject == "" || len(claims.Subject) > CustomerIDBytesMax {
		return "", refuse(ReasonMalformed, fmt.Errorf("sub of %d bytes, want 1..%d", len(claims.Subject), CustomerIDBytesMax))
	}
	return claims.Subject, nil
}

var errUnknownKey = errors.New("unknown key")

// keyfunc finds the token's key, reloading the set when the kid is unknown or
// the set is stale.
func (v *Verifier) keyfunc(ctx context.Context, now time.Time) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		ks := v.keys.Load()
		k, ok := ks.find(kid)
		if !ok || now.Sub(ks.loadedAt) >= v.cfg.RefreshEvery {
			if v.tryReload(ctx, now) {
				k, ok = v.keys.Load().find(kid)
			}
		}
		if !ok {
			return nil, fmt.Errorf("%w: kid %q", errUnknownKey, kid)
		}
		if alg := t.Method.Alg(); k.alg != "" && k.alg != alg {
			return nil, fmt.Errorf("key %q is for %s, token signed %s", kid, k.alg, alg)
		}
		return k.pub, nil
	}
}

// tryReload reloads the keys unless another verification is doing it or the
// last attempt was less than RefreshMin ago; true when the set was replaced.
func (v *Verifier) tryReload(ctx context.Context, now time.Time) bool {
	if !v.reload.TryLock() {
		return false
	}
	defer v.reload.Unlock()
	if now.Sub(v.lastAttempt) < v.cfg.RefreshMin {
		return false
	}
	v.lastAttempt = now
	v.reloads.Add(1)
	// The reload serves every later verification: the request that happened to
	// start it going away must not cancel it (FetchTimeout still bounds it).
	ks, err := v.load(context.WithoutCancel(ctx), now)
	if err != nil {
		v.reloadErrs.Add(1)
		return false
	}
	v.keys.Store(ks)
	return true
}

// Reloads counts the reloads attempted after the first load, and those that failed.
func (v *Verifier) Reloads() (attempted, failed uint64) {
	return v.reloads.Load(), v.reloadErrs.Load()
}

// reasonOfJWT maps the parser's errors. The parser joins every failed claim;
// another issuer or audience says more than expiry, so it comes first.
func reasonOfJWT(err error) Reason {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return ReasonMalformed
	case errors.Is(err, errUnknownKey):
		return ReasonUnknownKey
	case errors.Is(err, jwt.ErrTokenUnverifiable), errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return ReasonInvalid
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return ReasonWrongIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return ReasonWrongAudience
	case errors.Is(err, jwt.ErrTokenExpired):
		return ReasonExpired
	}
	return ReasonInvalid
}
