package io.riskpdp.client;

import com.fasterxml.jackson.annotation.JsonValue;

/**
 * A decision's outcome. An answer with any other outcome is not decoded: the call fails with a
 * {@link PdpTransportException}, and the caller applies {@link PdpClient#FALLBACK}.
 */
public enum Outcome {
  /** Go ahead. */
  ALLOW("allow"),
  /** Verify the user with one of {@link Decision.StepUp#methods()}, report it, then decide again. */
  STEP_UP("step_up"),
  /** Stop the operation. */
  DENY("deny");

  private final String wire;

  Outcome(String wire) {
    this.wire = wire;
  }

  /** The outcome's name in the API ({@code step_up}). */
  @JsonValue
  public String wire() {
    return wire;
  }
}
