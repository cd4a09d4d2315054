import { describe, expect, it } from "vitest";
import { editDistance } from "../../src/suggest.js";
import { bracketHost, displayServer, displayUrl } from "../../src/http.js";

describe("url: the one rule for showing a server", () => {
  it("drops user:password, keeps the rest", () => {
    expect(displayUrl(new URL("https://admin:s3cret@10.0.0.1:6443/x?y=1"))).toBe("https://10.0.0.1:6443/x?y=1");
    expect(displayUrl(new URL("http://proxy:3128/"))).toBe("http://proxy:3128/");
    expect(displayServer("https://admin:s3cret@[fd00::1]:6443/")).toBe("https://[fd00::1]:6443");
    expect(displayServer("https://h:6443/prefix")).toBe("https://h:6443/prefix");
  });
  it("a server that is not a URL is shown as given (its own run says what is wrong)", () => {
    expect(displayServer("not a url")).toBe("not a url");
    expect(displayServer("")).toBe("");
  });
});

describe("url: IPv6 hosts before a port", () => {
  it("brackets an IPv6 address once, leaves names and IPv4 alone", () => {
    expect(bracketHost("fd00::1")).toBe("[fd00::1]");
    expect(bracketHost("[fd00::1]")).toBe("[fd00::1]");
    expect(bracketHost("10.0.0.1")).toBe("10.0.0.1");
    expect(bracketHost("node-a.example")).toBe("node-a.example");
  });
});

describe("suggest: edit distance", () => {
  it("counts insertions, deletions and substitutions", () => {
    expect(editDistance("kubelet", "kubelet")).toBe(0);
    expect(editDistance("kublet", "kubelet")).toBe(1);
    expect(editDistance("schduler", "scheduler")).toBe(1);
    expect(editDistance("abc", "xyz")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
  });
});
