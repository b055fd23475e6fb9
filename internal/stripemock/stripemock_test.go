package stripemock

import (
	"net/http"
	"testing"
)

func TestStartStop(t *testing.T) {
	// Proves stripe-mock starts on a free port, answers an authenticated request, and is gone after Stop.
	s := ForTest(t)
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/v1/balance", nil)
	req.SetBasicAuth(SecretKey, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("balance: %v %v", resp, err)
	}
	resp.Body.Close()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("stripe-mock still answers after Stop")
	}
}
