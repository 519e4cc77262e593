// Package pdp holds the domain of the payment-risk policy decision point: the
// request a payment service sends before it authorizes an operation, the
// decision it gets back (allow, step_up or deny), the stages, the error
// vocabulary of the API, and the small interfaces the sub-packages implement.
//
// Dependencies stay in their own sub-packages and their types never appear
// here: OPA lives in pdp/internal/policy (its ast terms also in
// pdp/internal/request), fasthttp in pdp/internal/server, wazero in pdp/internal/plugin,
// ristretto and bbolt in pdp/internal/state. The root package imports
// only the standard library.
package pdp
