package io.riskpdp.client;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Instant;
import java.util.List;

/**
 * What the app may show of an account ({@code GET /v1/accounts/{uid}/status}): nothing internal.
 *
 * @param uid the account
 * @param status the most severe of {@code frozen}, {@code restricted}, {@code limited}, {@code
 *     probation}, else {@code ok}
 * @param functions the stages that do not work ({@code payment}, ...): every stage when frozen
 * @param until when the status ends, or null when no end is set
 * @param message the message of its situation, in the locale asked for
 * @param canAppeal whether the user may lodge an appeal now
 * @param appeals the account's appeals, oldest first
 */
public record AccountStatus(
    @JsonProperty("uid") String uid,
    @JsonProperty("status") String status,
    @JsonProperty("functions") List<Stage> functions,
    @JsonProperty("until") Instant until,
    @JsonProperty("message") String message,
    @JsonProperty("can_appeal") boolean canAppeal,
    @JsonProperty("appeals") List<Appeal> appeals) {
  public AccountStatus {
    functions = functions == null ? List.of() : List.copyOf(functions);
    appeals = appeals == null ? List.of() : List.copyOf(appeals);
  }
}
