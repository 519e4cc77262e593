package decisionlog

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

var baseTime = time.Date(2026, 11, 22, 2, 17, 0, 0, time.UTC)

// typicalRecord is a payment decision about the size the sidecar logs
// (about 1.5 KiB encoded). Its RequestID is "req-<i>".
func typicalRecord(i int) *Record {
	input := fmt.Sprintf(`{"request_id":"req-%d","stage":"payment","uid":"u-%07d",`+
		`"device":{"id":"dev-3f2acc7f57c29bdb","ip":"203.0.113.%d","ip_country":"CN","new":false,"os":"android","model":"PJZ110","app_version":"8.12.0"},`+
		`"txn":{"id":"T20261122%010d","amount":%d.50,"currency":"CNY","category":"digital_goods","merchant":"m-88231","payment_method":"card","ship_country":"CN","card_bin":"411111"},`+
		`"account":{"home_country":"CN","created_at":"2019-03-01T08:00:00Z","vip":false,"recent_changes":[{"kind":"password_reset","at":"2026-11-21T23:40:00Z"}]},`+
		`"context":{"channel":"app","user_statement":"buying a gift card for my nephew"}}`, i, i%1000003, i%250, i, 100+i%5000)
	enrich := `{"reputation":{"uid":{"blocked":false,"allowed":false,"vip":false},"device":{"blocked":false,"allowed":false,"vip":false}},` +
		`"velocity":{"uid":{"count_1m":3,"count_1h":7,"count_24h":12,"amount_1m":310.5,"amount_1h":902,"amount_24h":1400,"logins_1h":1},` +
		`"device":{"count_1m":3,"count_1h":7,"count_24h":12,"amount_1m":310.5,"amount_1h":902,"amount_24h":1400,"logins_1h":1},` +
		`"uid_devices_1h":1,"device_uids_1h":1,"spent_24h":1200,"failures":{"payment_1h":0,"payment_24h":1,"pin_1h":2,"pin_24h":2,"login_1h":0,"login_24h":0}},` +
		`"scores":{"habit":0.82,"device":0.1},"derived":{"recent_sensitive_change":true,"amount_vs_habit":14.2}}`
	return &Record{
		DecisionID: uuid.Must(uuid.NewV7()).String(),
		Timestamp:  baseTime.Add(time.Duration(i) * time.Millisecond),
		Path:       "riskpdp",
		Input:      json.RawMessage(input),
		Enrichment: json.RawMessage(enrich),
		Result: Result{
			Outcome: "step_up", Reasons: []string{"amount_far_above_habit", "recent_password_reset"},
			Methods: []string{"face", "sms"}, ChallengeID: "ch-" + fmt.Sprint(i), Revision: "rev-42",
			Obligations: []Obligation{{Type: "flag", Reason: "key_tracking"}},
		},
		Bundles:   map[string]Bundle{"riskpdp": {Revision: "rev-42"}},
		Labels:    map[string]string{"id": "pdp-0", "version": "0.1.0"},
		Metrics:   map[string]int64{"timer_pdp_decide_ns": 41000},
		RequestID: fmt.Sprintf("req-%d", i),
		Stage:     "payment", UID: fmt.Sprintf("u-%07d", i%1000003), TxnID: fmt.Sprintf("T20261122%010d", i),
		Amount: float64(100+i%5000) + 0.5, Currency: "CNY", Outcome: "step_up",
	}
}

// smallRecord is a login-sized record (about 500 bytes encoded), for the
// tests that log many.
func smallRecord(i int) *Record {
	return &Record{
		DecisionID: uuid.Must(uuid.NewV7()).String(),
		Timestamp:  baseTime.Add(time.Duration(i) * time.Millisecond),
		Path:       "riskpdp",
		Input: json.RawMessage(fmt.Sprintf(`{"stage":"payment","uid":"u-%d","txn":{"id":"T%d","amount":%d},"context":{"channel":"app"}}`,
			i, i, i%5000)),
		Enrichment: json.RawMessage(`{"scores":{"habit":0.82}}`),
		Result:     Result{Outcome: "allow", Reasons: []string{"ok"}},
		Labels:     map[string]string{"id": "pdp-0"},
		RequestID:  fmt.Sprintf("req-%d", i),
		Stage:      "payment", UID: fmt.Sprintf("u-%d", i), TxnID: fmt.Sprintf("T%d", i), Amount: float64(i % 5000),
		Outcome: "allow",
	}
}

// leakyRecord is typicalRecord with leaks (see leak).
func leakyRecord(i int) *Record { return leak(typicalRecord(i)) }

// leak puts a card number and secrets in places the request decoder would
// not look (identifier fields, enrichment, labels), as a bug might.
func leak(r *Record) *Record {
	r.TxnID = "4111 1111 1111 1111"
	r.Input = json.RawMessage(strings.Replace(string(r.Input), `"channel":"app"`,
		`"channel":"app","note":"card 5500-0000-0000-0004 exp 12/29","payment":{"pin":"1234","cvv":777}`, 1))
	r.Enrichment = json.RawMessage(strings.Replace(string(r.Enrichment), `"scores":`, `"sms_code":"S3cr3t-SMS","scores":`, 1))
	r.Labels["password"] = "hunter2"
	return r
}

// secretValues are the secrets leakyRecord carries; none may be logged.
var secretValues = []string{"4111 1111 1111 1111", "4111111111111111", "5500-0000-0000-0004",
	"5500000000000004", "S3cr3t-PIN", `"cvv":9731`, "S3cr3t-SMS", "hunter2"}

func typicalLine(tb testing.TB) []byte {
	b, err := json.Marshal(typicalRecord(0))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func newLogger(tb testing.TB, cfg Config) *Logger {
	tb.Helper()
	l, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close(context.Background()) })
	return l
}

func closeLogger(tb testing.TB, l *Logger) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		tb.Fatalf("Close: %v", err)
	}
}

// readAll reads every record of the log at path.
func readAll(tb testing.TB, path string) ([]*Record, *Reader) {
	tb.Helper()
	files, err := Files(path)
	if err != nil {
		tb.Fatal(err)
	}
	rd := NewReader(files)
	defer rd.Close()
	var out []*Record
	for {
		r, err := rd.Next()
		if err != nil {
			break
		}
		out = append(out, r)
	}
	return out, rd
}

// rawLog returns the concatenated decompressed bytes of every file of the
// log, for leak checks on the bytes themselves.
func rawLog(tb testing.TB, path string) string {
	tb.Helper()
	files, _ := Files(path)
	var sb strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		if strings.HasSuffix(f, ".gz") {
			b = gunzip(tb, b)
		}
		sb.Write(b)
	}
	return sb.String()
}

func gunzip(tb testing.TB, b []byte) []byte {
	tb.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func logPath(tb testing.TB) string { return filepath.Join(tb.TempDir(), "decisions.log") }

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
