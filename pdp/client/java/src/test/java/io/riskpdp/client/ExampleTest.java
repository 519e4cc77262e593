package io.riskpdp.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.riskpdp.client.example.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The example program reviewers copy, run against a live sidecar. */
@ExtendWith(Sidecar.Extension.class)
class ExampleTest {
  @Test
  void theExamplePaysAfterAFaceCheck(Sidecar sidecar) {
    PdpClient pdp = PdpClient.builder(sidecar.url).timeout(Duration.ofSeconds(5)).build();
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    Decision d;
    try (PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
      d = Main.pay(pdp, "u-example-" + UUID.randomUUID(), out);
    }
    String printed = buf.toString(StandardCharsets.UTF_8);
    assertEquals(Outcome.ALLOW, d.outcome(), printed);
    String[] lines = printed.split("\n");
    assertTrue(lines[0].startsWith("decide: step_up [large_amount"), printed);
    assertTrue(lines[1].startsWith("verify face: passed"), printed);
    assertTrue(lines[2].startsWith("retry: allow [step_up_verified"), printed);
    assertEquals("outcome: completed recorded=true", lines[3], printed);
  }
}
