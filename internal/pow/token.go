package pow

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// tokenVersion is the first byte of every payload, so the format can change.
const tokenVersion = 1

// saltBytes is the random part of a challenge; it also names the challenge in
// the seen-set.
const saltBytes = 16

// payloadBytes: version, event id, difficulty, issued and expiry (Unix ms), salt.
const payloadBytes = 1 + 16 + 1 + 8 + 8 + saltBytes

// TokenBytesMax bounds a token Verify decodes; a genuine one is about 110 bytes.
const TokenBytesMax = 256

// claims are what a challenge token says.
type claims struct {
	event      uuid.UUID
	difficulty int
	issued     time.Time
	expires    time.Time
	salt       [saltBytes]byte
}

func (c claims) payload() []byte {
	p := make([]byte, 0, payloadBytes)
	p = append(p, tokenVersion)
	p = append(p, c.event[:]...)
	p = append(p, byte(c.difficulty))
	p = binary.BigEndian.AppendUint64(p, uint64(c.issued.UnixMilli()))
	p = binary.BigEndian.AppendUint64(p, uint64(c.expires.UnixMilli()))
	return append(p, c.salt[:]...)
}

// seal is base64url(payload) "." base64url(HMAC-SHA-256(secret, payload)).
func seal(secret []byte, c claims) string {
	p := c.payload()
	return base64.RawURLEncoding.EncodeToString(p) + "." + base64.RawURLEncoding.EncodeToString(mac(secret, p))
}

func mac(secret, payload []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(payload)
	return m.Sum(nil)
}

// open checks the token's MAC and reads it.
func open(secret []byte, token string) (claims, error) {
	if len(token) > TokenBytesMax {
		return claims{}, refuse(ReasonMalformed, fmt.Errorf("token of %d bytes, at most %d", len(token), TokenBytesMax))
	}
	p64, m64, ok := strings.Cut(token, ".")
	if !ok {
		return claims{}, refuse(ReasonMalformed, errors.New("token without a MAC"))
	}
	p, err := base64.RawURLEncoding.DecodeString(p64)
	if err != nil || len(p) != payloadBytes || p[0] != tokenVersion {
		return claims{}, refuse(ReasonMalformed, errors.New("token payload is not a challenge"))
	}
	m, err := base64.RawURLEncoding.DecodeString(m64)
	if err != nil {
		return claims{}, refuse(ReasonMalformed, fmt.Errorf("token MAC: %w", err))
	}
	if !hmac.Equal(m, mac(secret, p)) {
		return claims{}, refuse(ReasonForged, errors.New("MAC mismatch"))
	}
	var c claims
	copy(c.event[:], p[1:17])
	c.difficulty = int(p[17])
	c.issued = time.UnixMilli(int64(binary.BigEndian.Uint64(p[18:26]))).UTC()
	c.expires = time.UnixMilli(int64(binary.BigEndian.Uint64(p[26:34]))).UTC()
	copy(c.salt[:], p[34:])
	return c, nil
}
