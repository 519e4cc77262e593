package io.riskpdp.client;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Where an operation comes from. Null fields are not sent; a missing {@code new} is derived by the
 * sidecar from the account's known devices.
 *
 * @param id the device's id
 * @param ip an IPv4 or IPv6 address
 * @param ipCountry ISO 3166 alpha-2 country of the IP
 * @param isNew the caller's view that the device is new to the account ({@code new})
 * @param emulator the app runs in an emulator
 * @param rooted the device is rooted or jailbroken
 * @param proxy the connection goes through a proxy
 * @param os operating system
 * @param model device model
 * @param appVersion the app's version
 */
public record Device(
    @JsonProperty("id") String id,
    @JsonProperty("ip") String ip,
    @JsonProperty("ip_country") String ipCountry,
    @JsonProperty("new") Boolean isNew,
    @JsonProperty("emulator") Boolean emulator,
    @JsonProperty("rooted") Boolean rooted,
    @JsonProperty("proxy") Boolean proxy,
    @JsonProperty("os") String os,
    @JsonProperty("model") String model,
    @JsonProperty("app_version") String appVersion) {

  /** A builder of a device with every field unset. */
  public static Builder builder() {
    return new Builder();
  }

  /** Builds a {@link Device}. */
  public static final class Builder {
    private String id;
    private String ip;
    private String ipCountry;
    private Boolean isNew;
    private Boolean emulator;
    private Boolean rooted;
    private Boolean proxy;
    private String os;
    private String model;
    private String appVersion;

    private Builder() {}

    public Builder id(String id) {
      this.id = id;
      return this;
    }

    public Builder ip(String ip) {
      this.ip = ip;
      return this;
    }

    public Builder ipCountry(String ipCountry) {
      this.ipCountry = ipCountry;
      return this;
    }

    public Builder isNew(boolean isNew) {
      this.isNew = isNew;
      return this;
    }

    public Builder emulator(boolean emulator) {
      this.emulator = emulator;
      return this;
    }

    public Builder rooted(boolean rooted) {
      this.rooted = rooted;
      return this;
    }

    public Builder proxy(boolean proxy) {
      this.proxy = proxy;
      return this;
    }

    public Builder os(String os) {
      this.os = os;
      return this;
    }

    public Builder model(String model) {
      this.model = model;
      return this;
    }

    public Builder appVersion(String appVersion) {
      this.appVersion = appVersion;
      return this;
    }

    public Device build() {
      return new Device(id, ip, ipCountry, isNew, emulator, rooted, proxy, os, model, appVersion);
    }
  }
}
