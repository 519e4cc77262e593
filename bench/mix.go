package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/riskpdp/riskpdp/pdp/sim"
)

// MixConfig describes the generated traffic. The zero value of a field
// means its default (see DefaultMix).
type MixConfig struct {
	// Kind is MixPopulation (default: the simulator's customers and
	// fraud, in sessions) or MixZipf (the stress case: Zipf-distributed
	// accounts replayed faster than people pay).
	Kind string `json:"kind"`
	// Seed makes the mix reproducible: the same seed gives the same bodies.
	Seed uint64 `json:"seed"`
	// Size is the number of distinct requests generated; the load generator
	// cycles through them. Default 50 000. With MixPopulation these are
	// what OPA and the floor are sent (the first attempt of each decision
	// of the first sessions); the sidecar plays the sessions themselves,
	// never one twice.
	Size int `json:"size"`
	// UIDs is the number of distinct accounts. Default 200 000. With
	// MixPopulation the sessions go to the accounts in turn, so one
	// account's sessions are UIDs sessions apart: at 3 000 sessions a
	// second, more than a minute (a person paying at a human rate).
	UIDs int `json:"uids"`
	// ZipfS and ZipfV shape the account popularity: P(k) ∝ (ZipfV+k)^-ZipfS
	// (math/rand/v2 NewZipf). Defaults 1.1 and 20: a heavy head without
	// one account taking most of the traffic.
	ZipfS float64 `json:"zipf_s"`
	ZipfV float64 `json:"zipf_v"`
	// Risky is the share of requests given one risk pattern that the
	// reference policy steps up or denies (MixZipf). Default 0.08.
	Risky float64 `json:"risky"`
	// BlockedDevices is the number of blocklisted devices ("bd-<i>") the
	// state holds; a blocklisted-device request draws one uniformly.
	// Default 10 000.
	BlockedDevices int `json:"blocked_devices"`
	// Now is the time the account ages and recent changes are relative to.
	Now time.Time `json:"now"`
}

// DefaultMix is the mix of a full run.
func DefaultMix() MixConfig {
	return MixConfig{Kind: MixPopulation, Seed: 1, Size: 50_000, UIDs: 200_000, ZipfS: 1.1, ZipfV: 20, Risky: 0.08, BlockedDevices: 10_000}
}

func (c MixConfig) withDefaults() MixConfig {
	d := DefaultMix()
	if c.Kind == "" {
		c.Kind = d.Kind
	}
	if c.Seed == 0 {
		c.Seed = d.Seed
	}
	if c.Size <= 0 {
		c.Size = d.Size
	}
	if c.UIDs <= 0 {
		c.UIDs = d.UIDs
	}
	if c.ZipfS <= 1 {
		c.ZipfS = d.ZipfS
	}
	if c.ZipfV < 1 {
		c.ZipfV = d.ZipfV
	}
	if c.Risky <= 0 || c.Risky > 1 {
		c.Risky = d.Risky
	}
	if c.BlockedDevices <= 0 {
		c.BlockedDevices = d.BlockedDevices
	}
	if c.Now.IsZero() {
		c.Now = time.Now().UTC().Truncate(time.Second)
	}
	return c
}

// Request is one generated operation, encoded for each target.
type Request struct {
	// Decide is the body of POST /v1/decide (the sidecar).
	Decide []byte
	// OPA is the body of POST /v1/data/riskpdp/decision: {"input": …} with
	// the request, the derived facts and a representative enrichment.
	OPA   []byte
	Stage string
	// Risk names the risk pattern applied ("" for ordinary traffic).
	Risk string
	// Scenario and Fraud: the simulator's scenario and label
	// (MixPopulation).
	Scenario string
	Fraud    bool
}

// The wire shapes of a decide request (README "Decision API").
type (
	wireDevice struct {
		ID        string `json:"id"`
		IP        string `json:"ip"`
		IPCountry string `json:"ip_country"`
		New       bool   `json:"new"`
		Emulator  bool   `json:"emulator,omitempty"`
		Rooted    bool   `json:"rooted,omitempty"`
		Proxy     bool   `json:"proxy,omitempty"`
		OS        string `json:"os"`
	}
	wireTxn struct {
		ID             string  `json:"id"`
		Amount         float64 `json:"amount"`
		Currency       string  `json:"currency"`
		Category       string  `json:"category,omitempty"`
		Merchant       string  `json:"merchant,omitempty"`
		PaymentMethod  string  `json:"payment_method,omitempty"`
		ShipCountry    string  `json:"ship_country,omitempty"`
		CardBIN        string  `json:"card_bin,omitempty"`
		Purpose        string  `json:"purpose,omitempty"`
		DestinationNew *bool   `json:"destination_new,omitempty"`
	}
	wireChange struct {
		Kind string `json:"kind"`
		At   string `json:"at"`
	}
	wireAccount struct {
		HomeCountry   string       `json:"home_country"`
		CreatedAt     string       `json:"created_at"`
		VIP           bool         `json:"vip"`
		RecentChanges []wireChange `json:"recent_changes,omitempty"`
	}
	wireRequest struct {
		RequestID string         `json:"request_id"`
		Stage     string         `json:"stage"`
		UID       string         `json:"uid"`
		Device    *wireDevice    `json:"device,omitempty"`
		Txn       *wireTxn       `json:"txn,omitempty"`
		Account   *wireAccount   `json:"account,omitempty"`
		Context   map[string]any `json:"context,omitempty"`
	}
)

// country is a home market: its currency and the amount factor from CNY.
type country struct {
	code, currency string
	fx             float64 // units of currency per CNY
	weight         float64
}

var countries = []country{
	{"CN", "CNY", 1, 0.80},
	{"HK", "HKD", 1.1, 0.06},
	{"SG", "SGD", 0.19, 0.05},
	{"US", "USD", 0.14, 0.05},
	{"DE", "EUR", 0.13, 0.04},
}

type weighted struct {
	name   string
	weight float64
}

var (
	stages = []weighted{
		{"login", 0.20}, {"order", 0.25}, {"payment", 0.35}, {"withdrawal", 0.10}, {"repayment", 0.10},
	}
	categories = []weighted{
		{"daily_goods", 0.40}, {"groceries", 0.20}, {"digital", 0.10}, {"electronics", 0.06},
		{"phone", 0.04}, {"jewellery", 0.02}, {"gift_card", 0.05}, {"travel", 0.13},
	}
	paymentMethods = []weighted{{"card", 0.55}, {"balance", 0.30}, {"bank", 0.10}, {"virtual_card", 0.05}}
	// riskPatterns are the risky requests, each aimed at a step_up or deny
	// path of the reference policy.
	riskPatterns = []weighted{
		{"new_device_foreign_ip", 0.25}, // step_up
		{"large_amount", 0.20},          // step_up (large_amount, category price …)
		{"risky_environment", 0.15},     // step_up
		{"scam_statement", 0.10},        // step_up with a warning (a statement), deny (the guidance flag)
		{"extreme_amount", 0.10},        // deny
		{"blocklisted_device", 0.15},    // deny (from the state's block list)
		{"sensitive_change", 0.05},      // step_up
	}
	osNames = []string{"android", "ios", "harmonyos"}
	// scamStatements match the scam phrases of config/data.json (config.scam).
	scamStatements = []string{
		"A customer service agent told me to move my money to a safe account",
		"客服让我把钱转到安全账户",
	}
	// lognormal medians (CNY) and sigmas of the amount per money stage.
	amountShape = map[string][2]float64{
		"order": {150, 1.1}, "payment": {120, 1.2}, "withdrawal": {800, 1.0}, "repayment": {1500, 0.8},
	}
)

func pick(r *rand.Rand, ws []weighted) string {
	x := r.Float64()
	for _, w := range ws {
		if x < w.weight {
			return w.name
		}
		x -= w.weight
	}
	return ws[len(ws)-1].name
}

func pickCountry(r *rand.Rand) country {
	x := r.Float64()
	for _, c := range countries {
		if x < c.weight {
			return c
		}
		x -= c.weight
	}
	return countries[0]
}

// account is what the mix knows about a UID: stable across its requests.
type account struct {
	uid       string
	home      country
	createdAt time.Time
	vip       bool
	ip        string
	os        string
}

// accountOf derives a UID's stable attributes from its index.
func accountOf(c *MixConfig, k uint64) account {
	r := rand.New(rand.NewPCG(c.Seed^0x9e3779b97f4a7c15, k))
	a := account{uid: fmt.Sprintf("u-%d", k), home: pickCountry(r)}
	// Account ages: a few days to eight years, most between one and five.
	days := math.Min(2900, math.Max(1, math.Exp(r.NormFloat64()*0.9+6.3)))
	a.createdAt = c.Now.Add(-time.Duration(days*24) * time.Hour)
	a.vip = r.Float64() < 0.02
	a.ip = fmt.Sprintf("100.%d.%d.%d", 64+k%64, (k/64)%256, 1+(k/16384)%254)
	a.os = osNames[r.IntN(len(osNames))]
	return a
}

// round2 keeps two decimals, as a payment amount has.
func round2(x float64) float64 { return math.Round(x*100) / 100 }

// NewTraffic is the simulator's population of a MixPopulation mix.
func NewTraffic(cfg MixConfig) *sim.Traffic {
	cfg = cfg.withDefaults()
	return sim.NewTraffic(cfg.Seed, cfg.UIDs, cfg.Now)
}

// GenerateMix returns cfg.Size requests. The same config gives the same
// requests (Now aside).
func GenerateMix(cfg MixConfig) ([]Request, error) {
	cfg = cfg.withDefaults()
	switch cfg.Kind {
	case MixPopulation:
		return generatePopulationMix(cfg, NewTraffic(cfg))
	case MixZipf:
		return generateZipfMix(cfg)
	}
	return nil, fmt.Errorf("mix kind %q: want %s or %s", cfg.Kind, MixPopulation, MixZipf)
}

// generateZipfMix makes the stress mix: independent requests of
// Zipf-distributed accounts, cfg.Risky of them with a risk pattern.
func generateZipfMix(cfg MixConfig) ([]Request, error) {
	r := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	zipf := rand.NewZipf(r, cfg.ZipfS, cfg.ZipfV, uint64(cfg.UIDs-1))
	out := make([]Request, cfg.Size)
	for i := range out {
		a := accountOf(&cfg, zipf.Uint64())
		risk := ""
		if r.Float64() < cfg.Risky {
			risk = pick(r, riskPatterns)
		}
		wr, stage := build(r, &cfg, &a, i, risk)
		dec, err := json.Marshal(wr)
		if err != nil {
			return nil, err
		}
		f := opaFacts{home: a.home.code, createdAt: a.createdAt, vip: a.vip, deviceKnown: !wr.Device.New}
		opa, err := json.Marshal(map[string]any{"input": opaInput(&cfg, wr, f, risk)})
		if err != nil {
			return nil, err
		}
		out[i] = Request{Decide: dec, OPA: opa, Stage: stage, Risk: risk}
	}
	return out, nil
}

// build makes the i-th request of account a with the risk pattern risk.
func build(r *rand.Rand, c *MixConfig, a *account, i int, risk string) (*wireRequest, string) {
	stage := pick(r, stages)
	switch risk {
	case "scam_statement", "extreme_amount", "sensitive_change":
		if stage == "login" || stage == "order" || stage == "repayment" {
			stage = "withdrawal" // outflow paths
		}
	case "large_amount":
		if stage == "login" {
			stage = "payment"
		}
	}
	wr := &wireRequest{RequestID: fmt.Sprintf("r-%d", i), Stage: stage, UID: a.uid}
	dev := &wireDevice{ID: "d-" + a.uid[2:], IP: a.ip, IPCountry: a.home.code, OS: a.os}
	if r.Float64() < 0.03 { // an ordinary new device at home
		dev.ID = fmt.Sprintf("d-%s-n%d", a.uid[2:], r.IntN(1000))
		dev.New = true
	}
	wr.Device = dev
	wr.Account = &wireAccount{HomeCountry: a.home.code, CreatedAt: a.createdAt.Format(time.RFC3339), VIP: a.vip}
	if stage != "login" {
		shape := amountShape[stage]
		cny := math.Exp(math.Log(shape[0]) + shape[1]*r.NormFloat64())
		txn := &wireTxn{ID: fmt.Sprintf("t-%d", i), Currency: a.home.currency}
		if stage == "order" || stage == "payment" {
			txn.Category = pick(r, categories)
			txn.Merchant = fmt.Sprintf("m-%d", r.IntN(5000))
			txn.PaymentMethod = pick(r, paymentMethods)
		}
		if stage == "order" {
			txn.ShipCountry = a.home.code
			if r.Float64() < 0.04 {
				txn.ShipCountry = otherCountry(r, a.home.code)
			}
		}
		if stage == "withdrawal" && r.Float64() < 0.5 {
			txn.Purpose = "savings"
		}
		switch risk {
		case "large_amount":
			cny = 6000 + r.Float64()*30000
		case "extreme_amount":
			cny = 60000 + r.Float64()*200000
			txn.Purpose = ""
		case "sensitive_change":
			cny = 2500 + r.Float64()*4000
		}
		txn.Amount = round2(math.Min(cny*a.home.fx, 5e6))
		wr.Txn = txn
	}
	switch risk {
	case "new_device_foreign_ip":
		dev.ID = fmt.Sprintf("d-%s-x%d", a.uid[2:], r.IntN(1000))
		dev.New = true
		dev.IPCountry = otherCountry(r, a.home.code)
		dev.IP = fmt.Sprintf("203.0.113.%d", 1+r.IntN(254))
	case "risky_environment":
		switch r.IntN(3) {
		case 0:
			dev.Emulator = true
		case 1:
			dev.Rooted = true
		default:
			dev.Proxy = true
		}
	case "scam_statement":
		if r.IntN(3) == 0 {
			wr.Context = map[string]any{"third_party_guidance": true}
		} else {
			wr.Context = map[string]any{"user_statement": scamStatements[r.IntN(len(scamStatements))]}
		}
	case "blocklisted_device":
		dev.ID = fmt.Sprintf("bd-%d", r.IntN(c.BlockedDevices))
	case "sensitive_change":
		at := c.Now.Add(-time.Duration(1+r.IntN(48)) * time.Hour)
		wr.Account.RecentChanges = []wireChange{{Kind: "phone_change", At: at.Format(time.RFC3339)}}
	}
	return wr, stage
}

func otherCountry(r *rand.Rand, home string) string {
	for {
		c := countries[r.IntN(len(countries))].code
		if c != home {
			return c
		}
	}
}
