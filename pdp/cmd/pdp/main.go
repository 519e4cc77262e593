// Command pdp is the payment-risk policy decision point. See pdp/internal/cli.
package main

import (
	"context"
	"os"

	"github.com/riskpdp/riskpdp/pdp/internal/cli"
)

func main() {
	os.Exit(cli.Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
