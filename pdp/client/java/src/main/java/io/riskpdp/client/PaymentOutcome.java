package io.riskpdp.client;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonValue;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;

/**
 * What became of a money movement the sidecar allowed, reported with {@code POST /v1/outcomes}.
 * Idempotent per (txnId, status): the same status again answers {@code recorded: false} and
 * changes nothing, so the client retries it after a transport failure.
 *
 * @param uid the account
 * @param txnId the transaction's {@code txn.id}
 * @param status what became of it
 * @param amount the amount, recorded only (with its currency)
 * @param currency the amount's currency
 * @param at when (at most 5 minutes ahead); null for now
 */
public record PaymentOutcome(
    @JsonProperty("uid") String uid,
    @JsonProperty("txn_id") String txnId,
    @JsonProperty("status") Status status,
    @JsonProperty("amount") BigDecimal amount,
    @JsonProperty("currency") String currency,
    @JsonProperty("at") Instant at) {

  /** An outcome of uid's transaction txnId, now. */
  public static PaymentOutcome of(String uid, String txnId, Status status) {
    return new PaymentOutcome(uid, txnId, status, null, null, null);
  }

  /** An outcome's status (README "Payment outcomes"). */
  public enum Status {
    /** The payment teaches the account's habit. */
    COMPLETED("completed"),
    /** It leaves the day's spend and counts as a payment failure. */
    FAILED("failed"),
    REVERSED("reversed"),
    REFUNDED("refunded"),
    /** A label, exported for backtesting. */
    CHARGEBACK("chargeback"),
    /** A label, exported for backtesting. */
    FRAUD_REPORTED("fraud_reported"),
    /** A label, exported for backtesting. */
    CONFIRMED_LEGIT("confirmed_legit");

    private final String wire;

    Status(String wire) {
      this.wire = wire;
    }

    @JsonValue
    public String wire() {
      return wire;
    }
  }

  /**
   * The sidecar's answer.
   *
   * @param recorded false for a repeat of the same (txnId, status): nothing changed
   * @param uid the account
   * @param txnId the transaction
   * @param status the status reported
   * @param known whether the sidecar keeps the payment (a label for an unknown one is recorded)
   * @param outcomes every outcome reported for the payment, in order
   */
  public record Recorded(
      @JsonProperty("recorded") boolean recorded,
      @JsonProperty("uid") String uid,
      @JsonProperty("txn_id") String txnId,
      @JsonProperty("status") Status status,
      @JsonProperty("known") boolean known,
      @JsonProperty("outcomes") List<Reported> outcomes) {
    public Recorded {
      outcomes = outcomes == null ? List.of() : List.copyOf(outcomes);
    }
  }

  /**
   * One outcome reported for a payment.
   *
   * @param status the status
   * @param at when
   */
  public record Reported(@JsonProperty("status") Status status, @JsonProperty("at") Instant at) {}
}
