/**
 * The Java client payment services use to ask the riskpdp sidecar for a decision before they
 * authorize a login, order, payment, withdrawal or repayment.
 *
 * <p>{@link io.riskpdp.client.PdpClient} covers the decision API a payment service uses: decide
 * (every stage), step-up verifications, account events, payment outcomes, appeals, the account
 * status and the health endpoints. Requests and answers are records; every failure is a {@link
 * io.riskpdp.client.PdpException}: a {@link io.riskpdp.client.PdpApiException} when the sidecar
 * answered with an error (its HTTP status, code, field and message), a {@link
 * io.riskpdp.client.PdpTransportException} when it gave no usable answer ({@link
 * io.riskpdp.client.PdpTimeoutException} when in time). When a decision cannot be had, apply
 * {@link io.riskpdp.client.PdpClient#FALLBACK} (step_up): never allow.
 */
package io.riskpdp.client;
