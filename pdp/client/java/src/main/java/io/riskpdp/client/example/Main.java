package io.riskpdp.client.example;

import io.riskpdp.client.Account;
import io.riskpdp.client.DecideRequest;
import io.riskpdp.client.Decision;
import io.riskpdp.client.Device;
import io.riskpdp.client.PaymentOutcome;
import io.riskpdp.client.PdpApiException;
import io.riskpdp.client.PdpClient;
import io.riskpdp.client.PdpException;
import io.riskpdp.client.Stage;
import io.riskpdp.client.Txn;
import io.riskpdp.client.Verification;
import java.io.PrintStream;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.UUID;

/**
 * A payment checked with the sidecar, end to end: decide, verify when asked, decide again, and
 * report what became of the payment. Run it against a sidecar ({@code make run} in the repository):
 *
 * <pre>
 * java -cp target/riskpdp-client-0.1.0.jar:/usr/share/java/jackson-databind.jar:\
 * /usr/share/java/jackson-core.jar:/usr/share/java/jackson-annotations.jar \
 *     io.riskpdp.client.example.Main http://127.0.0.1:9191
 * </pre>
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    String url = args.length > 0 ? args[0] : "http://127.0.0.1:9191";
    PdpClient pdp = PdpClient.create(url);
    // Once at startup: the JVM's first HTTP exchange is slow, the decisions after it are not.
    if (!pdp.warmUp()) {
      System.out.println("the sidecar at " + url + " is not ready");
    }
    Decision d = pay(pdp, "u-" + UUID.randomUUID(), System.out);
    System.exit(d.isAllow() ? 0 : 1);
  }

  /**
   * Pays 6000 CNY from a new device abroad for an account opened in 2021: the reference policy asks
   * for a face check first. Prints each step to out and returns the last decision.
   */
  public static Decision pay(PdpClient pdp, String uid, PrintStream out) {
    DecideRequest payment =
        DecideRequest.builder(Stage.PAYMENT, uid)
            .requestId("r-" + UUID.randomUUID())
            .device(Device.builder().id("d-77").ip("203.0.113.7").ipCountry("SG").isNew(true).build())
            .txn(
                Txn.builder("t-" + UUID.randomUUID(), new BigDecimal("6000.00"), "CNY")
                    .category("digital")
                    .build())
            .account(Account.of("CN", Instant.parse("2021-03-01T00:00:00Z")))
            .build();

    Decision d;
    try {
      d = pdp.decide(payment);
    } catch (PdpApiException e) {
      // The request was refused (a 4xx names the field) or not served: never allow.
      out.println("refused: " + e.status() + " " + e.code() + " " + e.field() + ": " + e.detail());
      throw e;
    } catch (PdpException e) {
      // No answer in time: apply the fallback (verify first), never allow.
      out.println("no decision (" + e.getMessage() + "): apply " + PdpClient.FALLBACK.wire());
      throw e;
    }
    out.println("decide: " + d.outcome().wire() + " " + d.reasons() + " " + d.message());

    if (d.isStepUp()) {
      // The app runs each check (here: the user passed it) and the service reports it.
      for (String method : d.stepUp().methods()) {
        Verification.Status v =
            pdp.verify(d.stepUp().challengeId(), method, Verification.Result.PASSED);
        out.println("verify " + method + ": " + v.status());
      }
      d = pdp.decide(payment.withChallenge(d.stepUp().challengeId()));
      out.println("retry: " + d.outcome().wire() + " " + d.reasons() + " " + d.message());
    }

    if (d.isAllow()) {
      // ... the service charges the payment, then says how it went.
      PaymentOutcome.Recorded r =
          pdp.reportOutcome(
              PaymentOutcome.of(uid, payment.txn().id(), PaymentOutcome.Status.COMPLETED));
      out.println("outcome: " + r.status().wire() + " recorded=" + r.recorded());
    }
    return d;
  }
}
