// Package pow is the proof of work a buyer does to join a waiting room: a
// stateless challenge signed by the API (HMAC-SHA-256), and a nonce such that
// SHA-256(token ‖ nonce) starts with Difficulty zero bits.
//
// The work costs a browser a fraction of a second and a bot farm that much per
// join, which is what makes a million scripted joins expensive. The challenge
// needs no storage to issue: its token carries the event, the difficulty, its
// issue and expiry times and a random salt, and its MAC proves the API made it.
// Verifying it needs one small piece of state, the seen-set, so that one solved
// challenge cannot be spent twice: the salts of challenges spent and not yet
// expired, bounded (see Issuer).
//
// For clients: the hash input is the token's ASCII bytes followed by the nonce's
// bytes, and the leading zero bits are counted from the first byte's most
// significant bit. Solve does exactly that.
package pow
