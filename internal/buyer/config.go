package buyer

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Defaults and bounds of Config.
const (
	LeewayDefault       = 30 * time.Second
	LeewayMax           = 5 * time.Minute
	RefreshMinDefault   = 30 * time.Second
	RefreshMinMin       = time.Second
	RefreshEveryDefault = time.Hour
	FetchTimeoutDefault = 5 * time.Second
	FetchTimeoutMax     = time.Minute
)

// AlgorithmsDefault are the signature algorithms accepted by default.
var AlgorithmsDefault = []string{"EdDSA", "ES256", "RS256"}

// algorithmsAllowed are those Config.Algorithms may name: asymmetric only.
var algorithmsAllowed = []string{"EdDSA", "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}

// Config says which identity provider to trust.
type Config struct {
	// Issuer is the iss every token must have. Required.
	Issuer string
	// Audience is a value the token's aud must contain. Required.
	Audience string
	// JWKSFile is a JWK Set file (JSON); exactly one of JWKSFile and JWKSURL.
	JWKSFile string
	// JWKSURL is the provider's JWK Set endpoint (http or https).
	JWKSURL string
	// Leeway is the clock skew allowed on exp, nbf and iat. Default 30s, at most
	// LeewayMax; negative means none.
	Leeway time.Duration
	// RefreshMin is the least time between two reloads of the keys. Default 30s,
	// at least RefreshMinMin.
	RefreshMin time.Duration
	// RefreshEvery is the age past which the keys are reloaded. Default 1h.
	RefreshEvery time.Duration
	// FetchTimeout bounds one load of the keys. Default 5s, at most FetchTimeoutMax.
	FetchTimeout time.Duration
	// Algorithms are the JWS algorithms accepted. Default AlgorithmsDefault;
	// symmetric ones (HS256, ...) and none are refused.
	Algorithms []string
	// HTTPClient fetches JWKSURL. Default http.DefaultClient (bounded by FetchTimeout).
	HTTPClient *http.Client
}

// withDefaults fills what was left zero.
func (c Config) withDefaults() Config {
	if c.Leeway == 0 {
		c.Leeway = LeewayDefault
	}
	c.Leeway = max(c.Leeway, 0)
	if c.RefreshMin == 0 {
		c.RefreshMin = RefreshMinDefault
	}
	if c.RefreshEvery == 0 {
		c.RefreshEvery = RefreshEveryDefault
	}
	if c.FetchTimeout == 0 {
		c.FetchTimeout = FetchTimeoutDefault
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = AlgorithmsDefault
	}
	if c.HTTPClient == nil {
		c.HTTPClient = http.DefaultClient
	}
	return c
}

// Validate rejects a Config that cannot work, naming every problem.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if strings.TrimSpace(c.Issuer) == "" {
		add("buyer Issuer is required")
	}
	if strings.TrimSpace(c.Audience) == "" {
		add("buyer Audience is required")
	}
	switch {
	case (c.JWKSFile == "") == (c.JWKSURL == ""):
		add("buyer needs exactly one of JWKSFile and JWKSURL")
	case c.JWKSURL != "":
		if u, err := url.Parse(c.JWKSURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("buyer JWKSURL %q is not an http(s) URL", c.JWKSURL)
		}
	}
	if c.Leeway > LeewayMax {
		add("buyer Leeway %v over %v", c.Leeway, LeewayMax)
	}
	if c.RefreshMin < RefreshMinMin {
		add("buyer RefreshMin %v under %v", c.RefreshMin, RefreshMinMin)
	}
	if c.RefreshEvery < c.RefreshMin {
		add("buyer RefreshEvery %v under RefreshMin %v", c.RefreshEvery, c.RefreshMin)
	}
	if c.FetchTimeout < 0 || c.FetchTimeout > FetchTimeoutMax {
		add("buyer FetchTimeout %v outside 0..%v", c.FetchTimeout, FetchTimeoutMax)
	}
	for _, a := range c.Algorithms {
		if !slices.Contains(algorithmsAllowed, a) {
			add("buyer algorithm %q not allowed (asymmetric only: %v)", a, algorithmsAllowed)
		}
	}
	return errors.Join(errs...)
}
