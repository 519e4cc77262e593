package io.riskpdp.client;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * The answer of {@code GET /health/live} ({@code ok}) or {@code GET /health/ready} ({@code
 * ready}, with what works in a reduced way).
 *
 * @param status {@code ok} (live) or {@code ready}
 * @param degraded what works in a reduced way (the decision log sink, Redis, a bundle, ...); empty
 *     when nothing
 */
public record Health(
    @JsonProperty("status") String status, @JsonProperty("degraded") List<String> degraded) {
  public Health {
    degraded = degraded == null ? List.of() : List.copyOf(degraded);
  }
}
