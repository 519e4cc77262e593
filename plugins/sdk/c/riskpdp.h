/*
 * riskpdp.h: the riskpdp scoring-plugin ABI v1 for C guests.
 * See plugins/ABI.md. Build with
 *
 *   clang --target=wasm32 -O2 -nostdlib -ffreestanding -I plugins/sdk/c \
 *     -Wl,--no-entry -Wl,--stack-first -o NAME.wasm NAME.c
 *
 * and define the plugin with RISKPDP_PLUGIN(score) where
 *
 *   static double score(const double *f, unsigned long long *reasons);
 *
 * reads features f[RISKPDP_AMOUNT]..., stores the reason bitmask (bit i is
 * reason i of the manifest) and returns a score in [0, 1]. The feature
 * indices below must match pdp/plugin/abi (TestCHeaderMatchesABI checks).
 */
#ifndef RISKPDP_H
#define RISKPDP_H

#define RISKPDP_ABI_VERSION 1
#define RISKPDP_SLOTS 64

enum riskpdp_feature {
	RISKPDP_AMOUNT = 0,
	RISKPDP_STAGE = 1,
	RISKPDP_ACCOUNT_AGE_DAYS = 2,
	RISKPDP_DEVICE_NEW = 3,
	RISKPDP_IP_FOREIGN = 4,
	RISKPDP_CROSS_BORDER = 5,
	RISKPDP_VIP = 6,
	RISKPDP_UID_COUNT_1M = 7,
	RISKPDP_UID_COUNT_1H = 8,
	RISKPDP_UID_COUNT_24H = 9,
	RISKPDP_UID_AMOUNT_1H = 10,
	RISKPDP_UID_AMOUNT_24H = 11,
	RISKPDP_UID_DEVICES_1H = 12,
	RISKPDP_DEVICE_UIDS_1H = 13,
	RISKPDP_DEVICE_COUNT_1H = 14,
	RISKPDP_IP_COUNT_1H = 15,
	RISKPDP_PAYMENT_FAILURES_1H = 16,
	RISKPDP_PIN_FAILURES_1H = 17,
	RISKPDP_LOGIN_FAILURES_1H = 18,
	RISKPDP_HOURS_SINCE_SENSITIVE_CHANGE = 19,
	RISKPDP_CATEGORY_CODE = 20,
	RISKPDP_PAYMENT_METHOD_CODE = 21,
	RISKPDP_HABIT_AMOUNT_MEAN = 22,
	RISKPDP_HABIT_AMOUNT_STD = 23,
	RISKPDP_HABIT_COUNT = 24,
	RISKPDP_HABIT_CATEGORY_SHARE = 25,
	RISKPDP_UID_BLOCKED = 26,
	RISKPDP_DEVICE_BLOCKED = 27,
	RISKPDP_IP_THREAT = 28,
	RISKPDP_CARD_BIN_BLOCKED = 29,
	RISKPDP_HOUR_OF_DAY = 30,
	RISKPDP_UID_AMOUNT_1M = 31,
	RISKPDP_PAYMENT_FAILURES_24H = 32,
};

/* Category codes (feature RISKPDP_CATEGORY_CODE). */
enum riskpdp_category {
	RISKPDP_CAT_OTHER = 0, RISKPDP_CAT_DAILY_GOODS = 1, RISKPDP_CAT_DIGITAL = 2, RISKPDP_CAT_PHONE = 3,
	RISKPDP_CAT_JEWELLERY = 4, RISKPDP_CAT_TRAVEL = 5, RISKPDP_CAT_GIFT_CARD = 6, RISKPDP_CAT_ELECTRONICS = 7,
	RISKPDP_CAT_LUXURY = 8, RISKPDP_CAT_GAMING = 9, RISKPDP_CAT_CRYPTO = 10, RISKPDP_CAT_TRANSFER = 11,
};

/* The exchange buffer: feature slots, then the reason mask. */
struct riskpdp_exchange {
	double features[RISKPDP_SLOTS];
	unsigned long long reasons;
};

#define RISKPDP_EXPORT(name) __attribute__((export_name(name))) __attribute__((visibility("default")))

#define RISKPDP_PLUGIN(score_fn)                                                        \
	static struct riskpdp_exchange riskpdp_exchange_ __attribute__((aligned(8)));      \
	RISKPDP_EXPORT("riskpdp_abi_version") int riskpdp_abi_version(void) {               \
		return RISKPDP_ABI_VERSION;                                                     \
	}                                                                                 \
	RISKPDP_EXPORT("riskpdp_buffer") int riskpdp_buffer(void) {                         \
		return (int)(unsigned long)&riskpdp_exchange_;                                  \
	}                                                                                 \
	RISKPDP_EXPORT("riskpdp_score") double riskpdp_score(void) {                        \
		return score_fn(riskpdp_exchange_.features, &riskpdp_exchange_.reasons);         \
	}

#endif
