package abi

// Stage codes (feature Stage). They equal the values of pdp.Stage.
const (
	StageLogin      = 1
	StageOrder      = 2
	StagePayment    = 3
	StageWithdrawal = 4
	StageRepayment  = 5
)

// Category codes (feature CategoryCode). Append-only like the features.
const (
	CategoryOther       = 0
	CategoryDailyGoods  = 1
	CategoryDigital     = 2
	CategoryPhone       = 3
	CategoryJewellery   = 4
	CategoryTravel      = 5
	CategoryGiftCard    = 6
	CategoryElectronics = 7
	CategoryLuxury      = 8
	CategoryGaming      = 9  // game credits, in-game currency
	CategoryCrypto      = 10 // crypto assets and exchanges
	CategoryTransfer    = 11 // person-to-person money transfer

	NumCategories = 12
)

// Payment method codes (feature PaymentMethodCode).
const (
	MethodOther        = 0
	MethodCard         = 1
	MethodVirtualCard  = 2
	MethodWallet       = 3
	MethodBankTransfer = 4
	MethodCredit       = 5

	NumMethods = 6
)

var (
	stageNames    = [...]string{"", "login", "order", "payment", "withdrawal", "repayment"}
	categoryNames = [NumCategories]string{"other", "daily_goods", "digital", "phone", "jewellery",
		"travel", "gift_card", "electronics", "luxury", "gaming", "crypto", "transfer"}
	methodNames = [NumMethods]string{"other", "card", "virtual_card", "wallet", "bank_transfer", "credit"}
)

// StageCode returns the code of a stage name ("payment" → 3), 0 if unknown.
func StageCode(name string) int { return indexOf(stageNames[:], name, 0) }

// CategoryCodeOf returns the code of a category name; unknown names are
// CategoryOther.
func CategoryCodeOf(name string) int { return indexOf(categoryNames[:], name, CategoryOther) }

// MethodCodeOf returns the code of a payment method name; unknown names are
// MethodOther.
func MethodCodeOf(name string) int { return indexOf(methodNames[:], name, MethodOther) }

// CodeName returns the name of code c of an enumerated feature (Stage,
// CategoryCode, PaymentMethodCode), or "" when f is not one or c is out of
// its table.
func CodeName(f Feature, c int) string {
	var t []string
	switch f {
	case Stage:
		t = stageNames[:]
	case CategoryCode:
		t = categoryNames[:]
	case PaymentMethodCode:
		t = methodNames[:]
	}
	if c < 0 || c >= len(t) {
		return ""
	}
	return t[c]
}

// CodeOf maps the name of a code of an enumerated feature to the code.
func CodeOf(f Feature, name string) (int, bool) {
	var t []string
	switch f {
	case Stage:
		t = stageNames[1:]
		if i := indexOf(t, name, -1); i >= 0 {
			return i + 1, true
		}
		return 0, false
	case CategoryCode:
		t = categoryNames[:]
	case PaymentMethodCode:
		t = methodNames[:]
	}
	i := indexOf(t, name, -1)
	return i, i >= 0
}

// MaxCode returns the largest valid code of an enumerated feature.
func MaxCode(f Feature) int {
	switch f {
	case Stage:
		return StageRepayment
	case CategoryCode:
		return NumCategories - 1
	case PaymentMethodCode:
		return NumMethods - 1
	case HourOfDay:
		return 23
	}
	return 0
}

func indexOf(t []string, name string, def int) int {
	for i, n := range t {
		if n == name && n != "" {
			return i
		}
	}
	return def
}
