package pow_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/internal/pow"
)

// The API issues a challenge, the buyer's client solves it, the API verifies
// the solution once.
func Example() {
	issuer, err := pow.NewIssuer(bytes.Repeat([]byte("k"), pow.SecretBytesMin), 10, time.Minute)
	if err != nil {
		panic(err)
	}
	event, now := uuid.New(), time.Now()
	c := issuer.Issue(event, now)
	nonce := pow.Solve(c.Token, c.Difficulty)
	fmt.Println(issuer.Verify(c.Token, nonce, event, now.Add(time.Second)))
	fmt.Println(pow.ReasonOf(issuer.Verify(c.Token, nonce, event, now.Add(2*time.Second))))
	// Output:
	// <nil>
	// replayed
}
