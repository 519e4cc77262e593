package pdp

// Stage is the operation the payment service is about to authorize.
type Stage uint8

// The five stages. Every stage but StageLogin moves money or commits to an
// order and therefore requires a transaction (txn.id, txn.amount).
const (
	StageLogin Stage = iota + 1
	StageOrder
	StagePayment
	StageWithdrawal
	StageRepayment
)

// NumStages bounds arrays indexed by Stage (index 0 is unused).
const NumStages = 6

var stageNames = [NumStages]string{"", "login", "order", "payment", "withdrawal", "repayment"}

// Stages lists every valid stage in wire order.
var Stages = []Stage{StageLogin, StageOrder, StagePayment, StageWithdrawal, StageRepayment}

// String returns the wire name of s.
func (s Stage) String() string {
	if s.Valid() {
		return stageNames[s]
	}
	return "unknown"
}

// Valid reports whether s is one of the five stages.
func (s Stage) Valid() bool { return s >= StageLogin && s <= StageRepayment }

// NeedsTxn reports whether requests at this stage must carry a transaction.
func (s Stage) NeedsTxn() bool { return s.Valid() && s != StageLogin }

// ParseStage maps a wire name to its Stage.
func ParseStage(name string) (Stage, bool) {
	for i := 1; i < NumStages; i++ {
		if stageNames[i] == name {
			return Stage(i), true
		}
	}
	return 0, false
}
