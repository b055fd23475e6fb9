package admittoken_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/internal/admittoken"
)

// The API signs the admission of a buyer the queue admitted, and checks it on
// each of the buyer's holds.
func Example() {
	signer, err := admittoken.NewSigner(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		panic(err)
	}
	now := time.Now()
	event := uuid.New()
	token, err := signer.Sign(admittoken.Claims{EventID: event, QueueID: uuid.New(), CustomerID: "cust-42",
		Allowance: 4, IssuedAt: now, ExpiresAt: now.Add(10 * time.Minute)})
	if err != nil {
		panic(err)
	}
	v := signer.Verifier()
	claims, err := v.Verify(token, event, "cust-42", now.Add(time.Minute))
	fmt.Println(claims.Allowance, err)
	_, err = v.Verify(token, event, "cust-43", now.Add(time.Minute))
	fmt.Println(admittoken.ReasonOf(err))
	_, err = v.Verify(token, event, "cust-42", now.Add(time.Hour))
	fmt.Println(admittoken.ReasonOf(err))
	// Output:
	// 4 <nil>
	// wrong_buyer
	// expired
}
