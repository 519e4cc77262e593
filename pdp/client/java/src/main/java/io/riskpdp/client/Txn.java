package io.riskpdp.client;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.math.BigDecimal;
import java.util.Objects;

/**
 * An operation's money movement or order. {@code id}, {@code amount} and {@code currency} are
 * required; null fields are not sent.
 *
 * @param id the transaction's id (1 to 128 bytes)
 * @param orderId a payment's order: the order's {@code txn.id}
 * @param amount finite, at least 0
 * @param currency ISO 4217 code
 * @param category merchandise category ({@code digital}, {@code daily_goods})
 * @param merchant merchant id
 * @param paymentMethod payment method
 * @param instrument a fingerprint of the card or account that pays (a withdrawal: that receives),
 *     never the number
 * @param shipCountry ISO 3166 alpha-2 shipping country
 * @param cardBin the card's first 6 to 8 digits
 * @param purpose the stated purpose
 * @param destinationNew the caller knows the destination is new
 */
public record Txn(
    @JsonProperty("id") String id,
    @JsonProperty("order_id") String orderId,
    @JsonProperty("amount") BigDecimal amount,
    @JsonProperty("currency") String currency,
    @JsonProperty("category") String category,
    @JsonProperty("merchant") String merchant,
    @JsonProperty("payment_method") String paymentMethod,
    @JsonProperty("instrument") String instrument,
    @JsonProperty("ship_country") String shipCountry,
    @JsonProperty("card_bin") String cardBin,
    @JsonProperty("purpose") String purpose,
    @JsonProperty("destination_new") Boolean destinationNew) {

  /** A builder of a transaction with its required fields. */
  public static Builder builder(String id, BigDecimal amount, String currency) {
    return new Builder(id, amount, currency);
  }

  /** Builds a {@link Txn}. */
  public static final class Builder {
    private final String id;
    private final BigDecimal amount;
    private final String currency;
    private String orderId;
    private String category;
    private String merchant;
    private String paymentMethod;
    private String instrument;
    private String shipCountry;
    private String cardBin;
    private String purpose;
    private Boolean destinationNew;

    private Builder(String id, BigDecimal amount, String currency) {
      this.id = Objects.requireNonNull(id, "id");
      this.amount = Objects.requireNonNull(amount, "amount");
      this.currency = Objects.requireNonNull(currency, "currency");
    }

    public Builder orderId(String orderId) {
      this.orderId = orderId;
      return this;
    }

    public Builder category(String category) {
      this.category = category;
      return this;
    }

    public Builder merchant(String merchant) {
      this.merchant = merchant;
      return this;
    }

    public Builder paymentMethod(String paymentMethod) {
      this.paymentMethod = paymentMethod;
      return this;
    }

    public Builder instrument(String instrument) {
      this.instrument = instrument;
      return this;
    }

    public Builder shipCountry(String shipCountry) {
      this.shipCountry = shipCountry;
      return this;
    }

    public Builder cardBin(String cardBin) {
      this.cardBin = cardBin;
      return this;
    }

    public Builder purpose(String purpose) {
      this.purpose = purpose;
      return this;
    }

    public Builder destinationNew(boolean destinationNew) {
      this.destinationNew = destinationNew;
      return this;
    }

    public Txn build() {
      return new Txn(
          id,
          orderId,
          amount,
          currency,
          category,
          merchant,
          paymentMethod,
          instrument,
          shipCountry,
          cardBin,
          purpose,
          destinationNew);
    }
  }
}
