// Package sim is a labelled traffic simulator (`pdp simulate`): simulated
// customers and fraudsters, over days of simulated time, drive the real
// decision path in process and the report says how much fraud it stopped
// and how many customers it bothered.
//
// It is public, unlike the sidecar's other packages (pdp/internal/...):
// it is a tool users drive, in process (Run, Report) or as a source of
// live traffic for a load harness (Traffic, WriteState; the bench module
// plays its sessions against a running `pdp serve`). Its API names only
// its own types, the domain's (package pdp) and the standard library's.
//
// # What runs
//
// Run builds what `pdp serve` builds for a decision — the policy set
// (the embedded reference policies or a directory), the risk state (a
// bbolt file, primed with the population's history), the velocity
// windows, the scoring plugins of a directory when given, the decision log
// when given — around the sidecar's decision service, and makes its calls as a payment
// service does: Decide with a JSON body (every money operation names its
// card or account in txn.instrument, a withdrawal its destination, and a
// payment its order in txn.order_id), Verify for each method of a step-up
// (then Decide again with the same txn.id and the challenge), Event for
// account events, and Outcome for what became of each allowed payment,
// withdrawal or repayment (completed; card testing's declined cards
// failed). Time is a simulated clock (the decision service's, the risk
// state's and the velocity windows' clocks) that jumps from one call to
// the next; every call is made in time order across
// all accounts (a heap, ties broken by episode), one at a time.
//
// # Who does what
//
// The population (NewPopulation) is the customers: home market and
// currency, account age, phone (and sometimes a tablet), usual IP,
// spending level and everyday categories, payment method and card BIN,
// salary and its day, a credit and its repayment day, whether they shop
// on the promotion evening; and the mule accounts a fraud ring controls.
// Run primes its state with what a sidecar that served them for months
// would know: first sight, known devices, the customer's own bank account
// as a known destination, the spending habit, the VIP list (WriteState
// writes the same into a state file for `pdp serve`).
//
// Each scenario (Scenarios) makes episodes: sequences of operations, each
// depending on the answers before it (an order that is not allowed is not
// paid; a fraudster denied once tries a smaller amount). Legitimate
// scenarios: everyday purchases and till payments, a big purchase now and
// then, the promotion evening (two to four purchases; a few bulk buyers
// who exceed five a minute and so abuse velocity themselves), salary-day
// withdrawals, credit repayments, trips abroad (often with a new phone),
// device changes, password resets, refunds moved back to the bank (half of
// them with the customer's own words about it), money sent to a new payee
// (now and then twice the same day). Customers pass every step-up. Fraud scenarios, from the source procedures: account takeover,
// scam-guided transfers with and without a statement, card testing, many
// accounts on one device, cross-border reshipping, payment-method
// switching, mule cash-outs. Fraudsters mostly fail or abandon step-ups
// (each scenario has its odds per method: a fraudster who changed the
// phone number receives the SMS); scam victims are the real customers and
// pass theirs. Every operation is labelled by its scenario.
//
// # Determinism
//
// The same Config (seed included) and the same policy give the same
// operations, answers and Report, byte for byte on one platform (another
// CPU architecture may round a float differently: the compiler fuses
// multiply-adds on some): every random draw comes
// from math/rand/v2 PCG sources seeded from the seed and the account, day
// or episode (adding an account does not reshuffle the others), the order
// of calls is fixed, no map order reaches an output, no wall clock
// decides anything. What is not reproduced: decision and challenge ids
// (UUIDv7 and a random signing key: they name, they do not decide) and,
// with plugins, a plugin call its wall-clock time budget cut short on a
// busy machine (Report.PluginFaults counts them; a run with faults may not
// repeat exactly). Plugins are therefore off by default, as in `pdp
// serve`.
//
// # The report
//
// A transaction is one txn.id (an order and its payment are two, as `pdp
// replay --labels` counts them); logins are counted apart. Figures, overall
// and per scenario: fraud transactions stepped up or denied, fraud denied,
// fraud amount stopped (the CNY value, at Rates, of fraud transactions
// that did not end allowed), legit step-ups per 1 000 legit transactions,
// legit denials, legit accounts frozen per 10 000 (a freeze obligation on
// a decision about the account's own legit operation) and how many of
// those did not abuse velocity themselves (VelocityAbuse); the issue's
// goals with the measured values; the reasons behind legit friction; the
// fraud that got through, grouped by scenario, stage and reasons. The CLI
// writes it as JSON and SVG, with labels.csv and the decision log for
// `pdp replay`.
//
// # Cost
//
// The default run (10 000 customers, 7 days) makes about 200 000
// decisions, 1 500 verifications, 130 events and 106 000 outcome reports
// (its CPU, wall time and peak memory on one machine are in README.md,
// "Measuring catch and friction"), and writes some 400 MiB of decision log
// (rotated at 100 MiB, older parts gzipped: about 25 MiB on disk). Memory holds the
// operations' outcomes (about 200 bytes each) and the episodes of about
// two days. The state file goes to /dev/shm when it exists: events and
// verifications are written durably (fsync), which a simulation does not
// need (when it has at least 1 GiB free; else the temporary directory).
package sim
