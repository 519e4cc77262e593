package io.riskpdp.client;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Instant;
import java.util.List;

/**
 * The caller's profile of an account. Null fields are not sent.
 *
 * @param homeCountry ISO 3166 alpha-2
 * @param createdAt when the account was opened
 * @param vip the caller's VIP flag (the sidecar's VIP list wins)
 * @param recentChanges sensitive changes reported inline (at most 32)
 */
public record Account(
    @JsonProperty("home_country") String homeCountry,
    @JsonProperty("created_at") Instant createdAt,
    @JsonProperty("vip") Boolean vip,
    @JsonProperty("recent_changes") List<AccountChange> recentChanges) {

  /** An account with a home country and an opening date, the two fields most policies read. */
  public static Account of(String homeCountry, Instant createdAt) {
    return new Account(homeCountry, createdAt, null, null);
  }

  /**
   * A sensitive change of the account reported inline.
   *
   * @param kind {@code password_reset}, {@code phone_change}, {@code pay_password_change}, {@code
   *     profile_change}, {@code email_change} or {@code device_bind}
   * @param at when it happened
   */
  public record AccountChange(@JsonProperty("kind") String kind, @JsonProperty("at") Instant at) {}
}
