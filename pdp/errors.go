package pdp

import (
	"errors"
	"fmt"
)

// ErrorCode is the machine-readable code of an API error.
type ErrorCode string

// Error codes of the API. The edge (pdp/internal/server) maps each to an HTTP status
// in one place.
const (
	CodeMalformedJSON    ErrorCode = "malformed_json"
	CodeBodyTooLarge     ErrorCode = "body_too_large"
	CodeMissingField     ErrorCode = "missing_field"
	CodeWrongType        ErrorCode = "wrong_type"
	CodeInvalidValue     ErrorCode = "invalid_value"
	CodeUnknownField     ErrorCode = "unknown_field"
	CodeUnknownStage     ErrorCode = "unknown_stage"
	CodeReservedField    ErrorCode = "reserved_field"
	CodeSecretField      ErrorCode = "secret_field"
	CodeCardNumber       ErrorCode = "card_number"
	CodeIdentityNumber   ErrorCode = "identity_number"
	CodeTooDeep          ErrorCode = "too_deep"
	CodeDuplicateKey     ErrorCode = "duplicate_key"
	CodeUnsupportedMedia ErrorCode = "unsupported_media_type"
	CodeHostNotAllowed   ErrorCode = "host_not_allowed"
	CodeNotFound         ErrorCode = "not_found"
	CodeMethodNotAllowed ErrorCode = "method_not_allowed"
	CodeUnauthorized     ErrorCode = "unauthorized"
	CodeForbidden        ErrorCode = "forbidden"
	CodeConflict         ErrorCode = "conflict"
	CodeNothingToAppeal  ErrorCode = "nothing_to_appeal" // no freeze, restriction, limit or probation to appeal
	CodeTooManyAppeals   ErrorCode = "too_many_appeals"  // MaxOpenAppeals open already
	CodeNotReady         ErrorCode = "not_ready"
	CodeUnavailable      ErrorCode = "unavailable"
	CodeInternal         ErrorCode = "internal"
)

// Error is an API error: a code, the offending field (a JSON path such as
// "txn.amount", empty when the error is not about one field) and a message
// that is safe to return to the caller.
type Error struct {
	Code    ErrorCode
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
}

// Errorf returns an *Error for field with a formatted message.
func Errorf(code ErrorCode, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// AsError extracts the *Error in err's chain. Any other error is reported as
// an internal error whose message does not leak the cause.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: "internal error"}
}
