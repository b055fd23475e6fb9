// Package buyer verifies who a buyer is: the bearer JWT the platform's identity
// provider gave them, checked against the provider's public keys (a JWKS file or
// URL), its issuer, audience and expiry. The customer id is the token's sub, so
// a buyer's id is verified, not self-declared.
//
// Keys are loaded at start. A token whose kid is not in the set makes the
// Verifier reload the set (the provider rotated its keys), at most once per
// RefreshMin whatever the traffic, so random kids cannot turn verification into
// a flood of fetches; a set older than RefreshEvery is reloaded on the next
// verification, so a key the provider withdrew stops being trusted. A failed
// reload keeps the keys it had. Keys are parsed by github.com/MicahParks/jwkset
// (RFC 7517: OKP Ed25519, EC P-256/384/521, RSA); symmetric keys are never
// accepted, so no token can be verified with a key published for everyone.
package buyer
