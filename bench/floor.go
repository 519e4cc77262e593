package bench

import "github.com/valyala/fasthttp"

// floorAnswer is the fixed decision the floor returns: an allow shaped and
// sized like the sidecar's.
var floorAnswer = []byte(`{"decision_id":"01a200c0-2cb6-77df-b182-e093ce30cbb8","request_id":"r-0","outcome":"allow",` +
	`"reasons":[],"message":"OK","policy_revision":"sha256:50ed0932e0a9","took_us":0}`)

// FloorHandler is the floor: a fasthttp handler that answers every POST
// with a fixed decision and does nothing else. Its latency and throughput
// are what HTTP/1.1 on loopback costs with the same client, so the
// difference to a target is that target's own work.
func FloorHandler(ctx *fasthttp.RequestCtx) {
	switch {
	case ctx.IsPost():
		ctx.SetContentType("application/json")
		ctx.SetBody(floorAnswer)
	case string(ctx.Path()) == "/health":
		ctx.SetBodyString("ok")
	default:
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
	}
}
