package pow

import (
	"crypto/rand"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Limits of an Issuer's settings.
const (
	// SecretBytesMin is the shortest HMAC secret accepted.
	SecretBytesMin = 32
	// DifficultyMax bounds the difficulty, in leading zero bits: 2^30 hashes take
	// a browser minutes, more is never useful.
	DifficultyMax = 30
	// TTLMin and TTLMax bound a challenge's life.
	TTLMin = time.Second
	TTLMax = time.Hour
	// SeenMaxDefault bounds the seen-set: about 64 MiB at most.
	SeenMaxDefault = 1 << 20
)

// Challenge is what GET /events/{id}/challenge gives a buyer (its JSON is the
// answer's body as it stands).
type Challenge struct {
	// Token is the signed challenge, to hash with the nonce and send back.
	Token string `json:"challenge"`
	// Difficulty is the leading zero bits SHA-256(Token ‖ nonce) must have.
	Difficulty int `json:"difficulty"`
	// ExpiresAt is when the challenge stops being accepted.
	ExpiresAt time.Time `json:"expires_at"`
}

// Solved is what Check tells of a valid solution.
type Solved struct {
	// Difficulty is the challenge's difficulty (from its token).
	Difficulty int
	// IssuedAt is when the challenge was issued: now − IssuedAt is the solve time.
	IssuedAt time.Time
}

// Issuer issues and verifies challenges. It is safe for concurrent use. Every
// API instance given the same secret verifies the others' challenges; the
// seen-set is per instance, so a solved challenge could be spent once on each
// instance (joins are one per buyer anyway).
type Issuer struct {
	secret     []byte
	ttl        time.Duration
	difficulty atomic.Int32
	seen       *seenSet
}

// NewIssuer makes an Issuer signing with secret (at least SecretBytesMin bytes)
// challenges of difficulty (0..DifficultyMax) that live ttl (TTLMin..TTLMax).
func NewIssuer(secret []byte, difficulty int, ttl time.Duration) (*Issuer, error) {
	if len(secret) < SecretBytesMin {
		return nil, fmt.Errorf("proof of work secret of %d bytes, at least %d", len(secret), SecretBytesMin)
	}
	if ttl < TTLMin || ttl > TTLMax {
		return nil, fmt.Errorf("proof of work ttl %v outside %v..%v", ttl, TTLMin, TTLMax)
	}
	i := &Issuer{secret: append([]byte(nil), secret...), ttl: ttl, seen: newSeenSet(SeenMaxDefault)}
	if err := i.SetDifficulty(difficulty); err != nil {
		return nil, err
	}
	return i, nil
}

// SetDifficulty changes the difficulty of the challenges issued from now on;
// those already issued keep theirs (it is in their token).
func (i *Issuer) SetDifficulty(difficulty int) error {
	if difficulty < 0 || difficulty > DifficultyMax {
		return fmt.Errorf("proof of work difficulty %d outside 0..%d", difficulty, DifficultyMax)
	}
	i.difficulty.Store(int32(difficulty))
	return nil
}

// Difficulty is the difficulty of the challenges issued now.
func (i *Issuer) Difficulty() int { return int(i.difficulty.Load()) }

// Issue makes a challenge for joining eventID's queue.
func (i *Issuer) Issue(eventID uuid.UUID, now time.Time) Challenge {
	c := claims{event: eventID, difficulty: i.Difficulty(), issued: now.Truncate(time.Millisecond),
		expires: now.Add(i.ttl).Truncate(time.Millisecond)}
	rand.Read(c.salt[:]) // never fails (crypto/rand)
	return Challenge{Token: seal(i.secret, c), Difficulty: c.difficulty, ExpiresAt: c.expires.UTC()}
}

// Verify checks that nonce solves token for eventID at now and spends the
// challenge. A refusal is an *Error with its Reason; the MAC is checked first,
// so a forged token is never reported as expired or for another event.
func (i *Issuer) Verify(token, nonce string, eventID uuid.UUID, now time.Time) error {
	_, err := i.Check(token, nonce, eventID, now)
	return err
}

// Check is Verify that also tells the solved challenge's difficulty and issue
// time, for a histogram of solve times.
func (i *Issuer) Check(token, nonce string, eventID uuid.UUID, now time.Time) (Solved, error) {
	if len(nonce) == 0 || len(nonce) > NonceBytesMax {
		return Solved{}, refuse(ReasonMalformed, fmt.Errorf("nonce of %d bytes, want 1..%d", len(nonce), NonceBytesMax))
	}
	c, err := open(i.secret, token)
	if err != nil {
		return Solved{}, err
	}
	switch {
	case c.event != eventID:
		return Solved{}, refuse(ReasonWrongEvent, fmt.Errorf("challenge of event %s, join of %s", c.event, eventID))
	case !now.Before(c.expires):
		return Solved{}, refuse(ReasonExpired, fmt.Errorf("expired at %v", c.expires))
	}
	if got := LeadingZeroBits(token, nonce); got < c.difficulty {
		return Solved{}, refuse(ReasonInsufficientWork, fmt.Errorf("%d leading zero bits, want %d", got, c.difficulty))
	}
	if !i.seen.spend(c.salt, c.expires, now) {
		return Solved{}, refuse(ReasonReplayed, fmt.Errorf("challenge already spent"))
	}
	return Solved{Difficulty: c.difficulty, IssuedAt: c.issued}, nil
}

// SeenEvicted counts spent challenges dropped from the seen-set before their
// expiry because it was full (see SeenMaxDefault): each could be replayed once.
func (i *Issuer) SeenEvicted() uint64 {
	i.seen.mu.Lock()
	defer i.seen.mu.Unlock()
	return i.seen.evicted
}
