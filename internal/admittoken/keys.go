package admittoken

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// DecodeKey reads a 32-byte key written in a setting: an Ed25519 seed for
// NewSigner or a public key for NewVerifier, as 64 hex digits or as base64
// (standard or URL alphabet, padded or not).
func DecodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*ed25519.SeedSize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	trimmed := strings.TrimRight(s, "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(trimmed); err == nil && len(b) == ed25519.SeedSize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("admission key: want %d bytes as hex or base64, got %d characters", ed25519.SeedSize, len(s))
}
