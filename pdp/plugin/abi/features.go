package abi

// Features is the feature record of ABI v1: one float64 per feature,
// indexed by the constants below. Booleans are 0 or 1; "unknown" is -1
// where a feature says so; enumerations use the code tables in codes.go.
//
// The list is append-only: an index never changes meaning, a new feature
// takes the next index (up to Slots), and a guest built against an older
// list keeps working because it only reads the features its manifest
// declares.
type Features [NumFeatures]float64

// Feature is the index of a feature in Features and in the exchange buffer.
type Feature uint8

// The features of ABI v1, in slot order. The comment gives the unit.
const (
	Amount                    Feature = iota // amount of the operation in the policy's base currency; 0 for login
	Stage                                    // StageLogin..StageRepayment
	AccountAgeDays                           // days since the account was created; -1 unknown
	DeviceNew                                // 0/1: first time this UID uses this device
	IPForeign                                // 0/1: ip_country != home_country
	CrossBorder                              // 0/1: ship_country != home_country
	VIP                                      // 0/1
	UIDCount1m                               // money-moving operations of the UID in the last minute
	UIDCount1h                               // ... last hour
	UIDCount24h                              // ... last 24 hours
	UIDAmount1h                              // sum of amounts of the UID in the last hour
	UIDAmount24h                             // ... last 24 hours
	UIDDevices1h                             // distinct devices the UID used in the last hour
	DeviceUIDs1h                             // distinct UIDs seen on the device in the last hour
	DeviceCount1h                            // operations from the device in the last hour
	IPCount1h                                // operations from the IP in the last hour
	PaymentFailures1h                        // failed payments of the UID in the last hour
	PINFailures1h                            // wrong PIN / payment password entries, last hour
	LoginFailures1h                          // failed logins, last hour
	HoursSinceSensitiveChange                // hours since a password / phone / PIN change; -1 none
	CategoryCode                             // Category* code of the order or payment
	PaymentMethodCode                        // Method* code
	HabitAmountMean                          // mean amount of the UID's history
	HabitAmountStd                           // standard deviation of those amounts
	HabitCount                               // number of operations in the history
	HabitCategoryShare                       // 0..1 share of this category in the history
	UIDBlocked                               // 0/1: UID on a block list
	DeviceBlocked                            // 0/1: device on a block list
	IPThreat                                 // 0/1: IP on a threat list
	CardBINBlocked                           // 0/1: card BIN on a block list
	HourOfDay                                // 0..23, UTC
	UIDAmount1m                              // sum of amounts of the UID in the last minute
	PaymentFailures24h                       // failed payments of the UID in the last 24 hours

	// NumFeatures is the number of features defined so far.
	NumFeatures
)

var featureNames = [NumFeatures]string{
	Amount:                    "amount",
	Stage:                     "stage",
	AccountAgeDays:            "account_age_days",
	DeviceNew:                 "device_new",
	IPForeign:                 "ip_foreign",
	CrossBorder:               "cross_border",
	VIP:                       "vip",
	UIDCount1m:                "uid_count_1m",
	UIDCount1h:                "uid_count_1h",
	UIDCount24h:               "uid_count_24h",
	UIDAmount1h:               "uid_amount_1h",
	UIDAmount24h:              "uid_amount_24h",
	UIDDevices1h:              "uid_devices_1h",
	DeviceUIDs1h:              "device_uids_1h",
	DeviceCount1h:             "device_count_1h",
	IPCount1h:                 "ip_count_1h",
	PaymentFailures1h:         "payment_failures_1h",
	PINFailures1h:             "pin_failures_1h",
	LoginFailures1h:           "login_failures_1h",
	HoursSinceSensitiveChange: "hours_since_sensitive_change",
	CategoryCode:              "category_code",
	PaymentMethodCode:         "payment_method_code",
	HabitAmountMean:           "habit_amount_mean",
	HabitAmountStd:            "habit_amount_std",
	HabitCount:                "habit_count",
	HabitCategoryShare:        "habit_category_share",
	UIDBlocked:                "uid_blocked",
	DeviceBlocked:             "device_blocked",
	IPThreat:                  "ip_threat",
	CardBINBlocked:            "card_bin_blocked",
	HourOfDay:                 "hour_of_day",
	UIDAmount1m:               "uid_amount_1m",
	PaymentFailures24h:        "payment_failures_24h",
}

// String returns the feature's manifest name.
func (f Feature) String() string {
	if f < NumFeatures {
		return featureNames[f]
	}
	return "feature?"
}

// LookupFeature maps a manifest name to its Feature.
func LookupFeature(name string) (Feature, bool) {
	for i, n := range featureNames {
		if n == name {
			return Feature(i), true
		}
	}
	return 0, false
}

// Kind tells how a feature's value is constrained.
type Kind uint8

// Feature kinds.
const (
	KindNumber   Kind = iota // any finite number
	KindBool                 // 0 or 1
	KindCode                 // a small non-negative integer from a code table
	KindUnknown1             // a non-negative number, or -1 for unknown / none
)

// KindOf returns f's kind.
func KindOf(f Feature) Kind {
	switch f {
	case DeviceNew, IPForeign, CrossBorder, VIP, UIDBlocked, DeviceBlocked, IPThreat, CardBINBlocked:
		return KindBool
	case Stage, CategoryCode, PaymentMethodCode, HourOfDay:
		return KindCode
	case AccountAgeDays, HoursSinceSensitiveChange:
		return KindUnknown1
	}
	return KindNumber
}
