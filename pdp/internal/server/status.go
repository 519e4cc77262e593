package server

import (
	"net/http"

	"github.com/riskpdp/riskpdp/pdp"
)

// StatusOf maps an error code to its HTTP status: the one place that does
// (the operator API uses it too).
func StatusOf(code pdp.ErrorCode) int {
	switch code {
	case pdp.CodeBodyTooLarge:
		return http.StatusRequestEntityTooLarge
	case pdp.CodeUnsupportedMedia:
		return http.StatusUnsupportedMediaType
	case pdp.CodeHostNotAllowed:
		return http.StatusMisdirectedRequest
	case pdp.CodeNotFound:
		return http.StatusNotFound
	case pdp.CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case pdp.CodeUnauthorized:
		return http.StatusUnauthorized
	case pdp.CodeForbidden:
		return http.StatusForbidden
	case pdp.CodeConflict, pdp.CodeNothingToAppeal, pdp.CodeTooManyAppeals:
		return http.StatusConflict
	case pdp.CodeNotReady, pdp.CodeUnavailable:
		return http.StatusServiceUnavailable
	case pdp.CodeInternal:
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}
