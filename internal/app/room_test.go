package app

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// TestRoomSettings proves that the waiting room's settings are checked at start,
// each bad one named by its variable, and that good ones build the API's room
// (development defaults included).
func TestRoomSettings(t *testing.T) {
	_, err := ParseConfig("all", []string{"-admin-token", strings.Repeat("a", 16),
		"-admission-signing-key", "not a key", "-pow-secret", "short", "-pow-difficulty", "99",
		"-buyer-jwks", "/nonexistent/jwks.json", "-buyer-rate-limit", "-1"})
	if err == nil {
		t.Fatal("bad waiting-room settings accepted")
	}
	for _, name := range []string{"ADMISSION_SIGNING_KEY", "POW_SECRET", "POW_DIFFICULTY", "BUYER_JWKS", "BUYER_RATE_LIMIT"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
	seed := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("s", 32)))
	cfg, err := ParseConfig("all", []string{"-admin-token", strings.Repeat("a", 16), "-admission-signing-key", seed,
		"-pow-difficulty", "4"})
	if err != nil {
		t.Fatal(err)
	}
	room, err := cfg.roomDeps(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || room.Signer == nil || room.PoW == nil || room.Buyers != nil || room.PoW.Difficulty() != 4 {
		t.Fatalf("room %+v, %v; want a signer, difficulty-4 challenges, self-declared buyers", room, err)
	}
}
