// Package admittoken is the admission token of the waiting room: a short-lived
// Ed25519-signed JWT (alg EdDSA) that the API hands to a buyer the queue admitted
// and that every hold on the event must carry (header Admission-Token).
//
// The token binds the event, the queue entry (its jti is the queue id), the buyer
// and the ticket allowance of the admission. It proves only that the API admitted
// this buyer for this event until its expiry; the allowance itself is spent and
// counted by the queue writer in the processor, so a replayed token cannot buy
// more than its admission allows.
//
// Keys rotate by kid: a Signer names its key by the RFC 7638 thumbprint of its
// public key, and a Verifier accepts every public key it was given, so a new key
// can sign while tokens of the previous one are still honoured until they expire.
package admittoken
