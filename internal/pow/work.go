package pow

import (
	"crypto/sha256"
	"math/bits"
	"strconv"
)

// NonceBytesMax bounds the nonce Verify hashes.
const NonceBytesMax = 64

// LeadingZeroBits is the number of zero bits SHA-256(token ‖ nonce) starts with.
func LeadingZeroBits(token, nonce string) int {
	sum := sha256.Sum256([]byte(token + nonce))
	return zeroBits(sum[:])
}

func zeroBits(sum []byte) int {
	n := 0
	for _, b := range sum {
		if b != 0 {
			return n + bits.LeadingZeros8(b)
		}
		n += 8
	}
	return n
}

// Solve finds a nonce for token at difficulty: the decimal counter from 0 that
// first gives difficulty leading zero bits. It takes 2^difficulty hashes on
// average; a difficulty over DifficultyMax is a programmer error and panics.
func Solve(token string, difficulty int) string {
	if difficulty < 0 || difficulty > DifficultyMax {
		panic("pow: difficulty out of range")
	}
	buf := make([]byte, 0, len(token)+20)
	buf = append(buf, token...)
	for i := uint64(0); ; i++ {
		in := strconv.AppendUint(buf, i, 10)
		if sum := sha256.Sum256(in); zeroBits(sum[:]) >= difficulty {
			return string(in[len(token):])
		}
	}
}
