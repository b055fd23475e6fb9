package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Input limits, in bytes: the contract's (topics.TextBytesMax).
const (
	idempotencyKeyBytesMax = topics.TextBytesMax
	customerIDBytesMax     = topics.TextBytesMax
	nameBytesMax           = topics.TextBytesMax
)

// decodeJSON reads the request body into dst: it must be application/json, at most
// Config.BodyBytesMax bytes, exactly one JSON value, and name no field dst lacks.
func (s *server) decodeJSON(c *gin.Context, dst any) *Error {
	return decodeJSONLimit(c, dst, s.cfg.BodyBytesMax)
}

// decodeJSONLimit is decodeJSON with a body of at most limit bytes.
func decodeJSONLimit(c *gin.Context, dst any, limit int64) *Error {
	mediaType, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mediaType != "application/json" {
		return newError(KindUnsupportedType, "unsupported_media_type", "the body must be application/json")
	}
	if c.Request.ContentLength > limit {
		return bodyTooLarge(limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return bodyTooLarge(limit)
		}
		return invalid("invalid_body", "reading the body: %v", err)
	}
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD; a body that is
	// not UTF-8 (RFC 8259 asks for it) is refused instead.
	if !utf8.Valid(body) {
		return invalid("invalid_text", "the body is not valid UTF-8 (at byte %d)", invalidUTF8At(body))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return invalid("invalid_json", "the body must hold one JSON object")
	}
	return nil
}

func bodyTooLarge(limit int64) *Error {
	return newError(KindTooLarge, "body_too_large", fmt.Sprintf("the body is over %d bytes", limit))
}

func jsonError(err error) *Error {
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return invalid("invalid_json", "the body is empty")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return invalid("unknown_field", "%s", strings.TrimPrefix(err.Error(), "json: "))
	case errors.As(err, &typeErr):
		return invalid("invalid_field", "field %q must be a JSON %s", typeErr.Field, typeErr.Type)
	default:
		return invalid("invalid_json", "the body is not valid JSON: %v", err)
	}
}

// parseID parses a UUID; what names it in the error ("event_id", "hold id").
func parseID(s, what string) (uuid.UUID, *Error) {
	id, err := uuid.Parse(s)
	if err != nil || id == uuid.Nil || len(s) != 36 {
		return uuid.Nil, invalid("invalid_id", "%s must be a UUID in its 36-character form", what)
	}
	return id, nil
}

// requiredID parses a required UUID field of a body.
func requiredID(s *string, field string) (uuid.UUID, *Error) {
	if s == nil {
		return uuid.Nil, missing(field)
	}
	return parseID(*s, field)
}

func missing(field string) *Error {
	return invalid("missing_field", "field %q is required", field)
}

// checkText checks that a text value can be stored all the way down: 1 to limit
// bytes of valid UTF-8 without NUL (a Postgres text value cannot hold 0x00, and a
// value the read model cannot store would stop the sink).
func checkText(s, field string, limit int) *Error {
	if s == "" || len(s) > limit {
		return invalid("invalid_field", "field %q must be 1 to %d bytes", field, limit)
	}
	if !utf8.ValidString(s) {
		return invalid("invalid_text", "field %q is not valid UTF-8", field)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return invalid("invalid_text", "field %q must not contain NUL (U+0000)", field)
	}
	return nil
}

// invalidUTF8At is the offset of the first byte of b that is not valid UTF-8.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}
