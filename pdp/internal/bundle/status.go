package bundle

import (
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/download"
)

// Cause classifies why a poll did not activate a bundle.
type Cause int

// Causes, in the order Status.Failures counts them.
const (
	// CauseNetwork: the bundle service could not be reached, or the
	// request timed out.
	CauseNetwork Cause = iota
	// CauseHTTP: the service answered with an error status.
	CauseHTTP
	// CauseVerification: the signature is missing, does not verify, has
	// the wrong scope or does not cover the bundle's files exactly.
	CauseVerification
	// CauseInvalid: not a bundle the sidecar accepts: a corrupt archive, a
	// bad manifest or roots, Rego that does not parse, a delta bundle, a
	// file too large, plugins where none are accepted.
	CauseInvalid
	// CauseActivation: the policies did not compile or failed the smoke
	// test, the plugins were refused, or the files could not be written.
	CauseActivation
	// CausePersist: the bundle was activated but the copy kept for
	// restarts could not be saved.
	CausePersist
	// NumCauses is the number of causes.
	NumCauses
)

var causeNames = [NumCauses]string{"network", "http", "verification", "invalid", "activation", "persist"}

// String returns the cause's metric label.
func (c Cause) String() string {
	if c < 0 || c >= NumCauses {
		return "unknown"
	}
	return causeNames[c]
}

// Status is a snapshot of a Loader's state.
type Status struct {
	// URL is the bundle's address.
	URL string
	// Revision is the revision the last activated bundle serves under (its
	// manifest's, or a hash of its files); "" until one is activated.
	Revision string
	// ETag is the entity tag of the last activated bundle.
	ETag string
	// Origin says where the active bundle came from: "download" or
	// "persisted" (restored at start).
	Origin string
	// Plugins is the number of plugins the active bundle carries.
	Plugins int
	// Activations counts activated bundles.
	Activations uint64
	// LastActivation is when the active bundle was activated (zero: none).
	LastActivation time.Time
	// LastRequest is when the service was last asked; LastSuccess when it
	// last answered with a bundle or "not modified".
	LastRequest, LastSuccess time.Time
	// LastError is the last refusal or failed poll, and when it happened;
	// cleared by the next successful poll.
	LastError   string
	LastErrorAt time.Time
	// Failures counts failed polls and refused bundles by cause.
	Failures [NumCauses]uint64
}

// Activated reports whether a bundle has been activated.
func (s Status) Activated() bool { return !s.LastActivation.IsZero() }

// classify returns the cause of an error from OPA's downloader or reader.
// Verification failures are recognized by OPA's messages (the reader
// returns untyped errors); TestCauses pins them.
func classify(err error) Cause {
	var he download.HTTPError
	var ue *url.Error
	switch {
	case errors.As(err, &he):
		return CauseHTTP
	case errors.As(err, &ue), strings.HasPrefix(err.Error(), "request failed"):
		return CauseNetwork
	}
	msg := err.Error()
	for _, s := range []string{"signature", "digest mismatch", "scope mismatch", "verification key", "JWT", "PEM block"} {
		if strings.Contains(msg, s) {
			return CauseVerification
		}
	}
	return CauseInvalid
}
