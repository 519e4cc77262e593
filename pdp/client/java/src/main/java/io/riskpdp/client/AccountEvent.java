package io.riskpdp.client;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonValue;
import java.time.Instant;

/**
 * An account event, reported with {@code POST /v1/events}. Events are counted (failures in the
 * account's velocity), so the client never repeats one by itself.
 *
 * @param uid the account
 * @param kind what happened
 * @param at when (at most 5 minutes ahead); null for now
 * @param deviceId the device, when known
 */
public record AccountEvent(
    @JsonProperty("uid") String uid,
    @JsonProperty("kind") Kind kind,
    @JsonProperty("at") Instant at,
    @JsonProperty("device_id") String deviceId) {

  /** An event of kind for uid, now, without a device. */
  public static AccountEvent of(String uid, Kind kind) {
    return new AccountEvent(uid, kind, null, null);
  }

  /** What happened to the account. */
  public enum Kind {
    PASSWORD_RESET("password_reset"),
    PHONE_CHANGE("phone_change"),
    PAY_PASSWORD_CHANGE("pay_password_change"),
    PROFILE_CHANGE("profile_change"),
    EMAIL_CHANGE("email_change"),
    DEVICE_BIND("device_bind"),
    LOGIN_FAILED("login_failed"),
    PIN_FAILED("pin_failed"),
    PAYMENT_FAILED("payment_failed");

    private final String wire;

    Kind(String wire) {
      this.wire = wire;
    }

    @JsonValue
    public String wire() {
      return wire;
    }
  }

  /**
   * The sidecar's answer: the event as stored.
   *
   * @param recorded always true
   * @param kind the event's kind
   * @param at when it happened (now when not sent)
   */
  public record Recorded(
      @JsonProperty("recorded") boolean recorded,
      @JsonProperty("kind") Kind kind,
      @JsonProperty("at") Instant at) {}
}
