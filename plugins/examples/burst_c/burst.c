/*
 * burst: the velocity_burst plugin, in C to show a second language against
 * the same ABI. Bursts of operations in one minute (the source SOP's "more
 * than 5 transactions in 1 minute"), large sums moved in that minute, and
 * repeated payment failures.
 *
 * Score: noisy-OR of 0.7 for more than 5 operations in a minute (rising
 * to 0.9 at 10), 0.5 when the minute's total is at least 3 times this
 * amount over 3 or more operations, and 0.4 for 3 or more payment failures
 * in the hour.
 */
#include "riskpdp.h"

enum { OVER_5_PER_MINUTE = 1 << 0, LARGE_AMOUNT_BURST = 1 << 1, REPEATED_FAILURES = 1 << 2 };

static double score(const double *f, unsigned long long *reasons) {
	double q = 1.0;
	unsigned long long r = 0;
	double n1m = f[RISKPDP_UID_COUNT_1M];
	if (n1m > 5) {
		double p = n1m >= 10 ? 0.9 : 0.7 + 0.04 * (n1m - 5);
		q *= 1 - p;
		r |= OVER_5_PER_MINUTE;
	}
	if (n1m >= 3 && f[RISKPDP_AMOUNT] > 0 && f[RISKPDP_UID_AMOUNT_1M] >= 3 * f[RISKPDP_AMOUNT]) {
		q *= 1 - 0.5;
		r |= LARGE_AMOUNT_BURST;
	}
	if (f[RISKPDP_PAYMENT_FAILURES_1H] >= 3) {
		q *= 1 - 0.4;
		r |= REPEATED_FAILURES;
	}
	*reasons = r;
	return 1 - q;
}

RISKPDP_PLUGIN(score)
