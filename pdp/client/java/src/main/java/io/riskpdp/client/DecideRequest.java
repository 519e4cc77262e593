package io.riskpdp.client;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Map;
import java.util.Objects;

/**
 * A decide request ({@code POST /v1/decide}); README "Decision API" describes each field. Fields
 * left null are not sent. Build one with {@link #builder(Stage, String)}.
 *
 * @param requestId echoed back in the decision (at most 128 bytes); not an idempotency key: every
 *     decide counts in the account's velocity, so the client never repeats one by itself
 * @param challengeId the step-up challenge of this operation, when deciding again after a
 *     verification ({@link #withChallenge(String)})
 * @param locale the language of the decision's messages ({@code zh}, {@code en-SG})
 * @param stage the operation (required)
 * @param uid the account (required, 1 to 128 bytes)
 * @param device where the operation comes from
 * @param txn the money movement or order (required but for {@link Stage#LOGIN})
 * @param account the caller's profile of the account
 * @param context free-form signals for the policy ({@code third_party_guidance}, {@code
 *     remote_assistance}, {@code user_statement} in the reference policy)
 */
public record DecideRequest(
    @JsonProperty("request_id") String requestId,
    @JsonProperty("challenge_id") String challengeId,
    @JsonProperty("locale") String locale,
    @JsonProperty("stage") Stage stage,
    @JsonProperty("uid") String uid,
    @JsonProperty("device") Device device,
    @JsonProperty("txn") Txn txn,
    @JsonProperty("account") Account account,
    @JsonProperty("context") Map<String, Object> context) {

  /** A builder of a request for stage and uid. */
  public static Builder builder(Stage stage, String uid) {
    return new Builder(stage, uid);
  }

  /**
   * The same request carrying challengeId: the retry after the user passed the step-up's
   * verification. It must be the same operation (uid, stage, txn id, amount, currency, device), or
   * the sidecar decides it afresh.
   */
  public DecideRequest withChallenge(String challengeId) {
    return new DecideRequest(
        requestId, challengeId, locale, stage, uid, device, txn, account, context);
  }

  /** The same request with another request id. */
  public DecideRequest withRequestId(String requestId) {
    return new DecideRequest(
        requestId, challengeId, locale, stage, uid, device, txn, account, context);
  }

  /** Builds a {@link DecideRequest}. */
  public static final class Builder {
    private final Stage stage;
    private final String uid;
    private String requestId;
    private String challengeId;
    private String locale;
    private Device device;
    private Txn txn;
    private Account account;
    private Map<String, Object> context;

    private Builder(Stage stage, String uid) {
      this.stage = Objects.requireNonNull(stage, "stage");
      this.uid = Objects.requireNonNull(uid, "uid");
    }

    public Builder requestId(String requestId) {
      this.requestId = requestId;
      return this;
    }

    public Builder challengeId(String challengeId) {
      this.challengeId = challengeId;
      return this;
    }

    public Builder locale(String locale) {
      this.locale = locale;
      return this;
    }

    public Builder device(Device device) {
      this.device = device;
      return this;
    }

    public Builder txn(Txn txn) {
      this.txn = txn;
      return this;
    }

    public Builder account(Account account) {
      this.account = account;
      return this;
    }

    /** Free-form signals, sent as given (copied). */
    public Builder context(Map<String, Object> context) {
      this.context = context == null ? null : Map.copyOf(context);
      return this;
    }

    public DecideRequest build() {
      return new DecideRequest(
          requestId, challengeId, locale, stage, uid, device, txn, account, context);
    }
  }
}
