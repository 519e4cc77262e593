package io.riskpdp.client;

import com.fasterxml.jackson.annotation.JsonValue;

/** The operation a decision is asked for. */
public enum Stage {
  LOGIN("login"),
  ORDER("order"),
  PAYMENT("payment"),
  WITHDRAWAL("withdrawal"),
  REPAYMENT("repayment");

  private final String wire;

  Stage(String wire) {
    this.wire = wire;
  }

  /** The stage's name in the API ({@code payment}). */
  @JsonValue
  public String wire() {
    return wire;
  }
}
