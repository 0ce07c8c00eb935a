/**
 * `parseClusterUrl`, the Redis Cluster form of REDIS_URL: the nodes, the credentials, TLS, IPv6 in
 * brackets; and errors that say what is wrong without ever showing the password.
 */
import { describe, expect, it } from "vitest";
import { parseClusterUrl } from "../../src/kernel/redis-url.js";

describe("parseClusterUrl", () => {
  it.each([
    {
      name: "one node",
      url: "redis-cluster://127.0.0.1:7000",
      expected: { nodes: [{ host: "127.0.0.1", port: 7000 }], auth: {}, tls: false },
    },
    {
      name: "several nodes, spaces around the commas, a trailing slash",
      url: "redis-cluster://a.example:7000, b.example:7001,c:7002/",
      expected: {
        nodes: [
          { host: "a.example", port: 7000 },
          { host: "b.example", port: 7001 },
          { host: "c", port: 7002 },
        ],
        auth: {},
        tls: false,
      },
    },
    {
      name: "a user and a password, percent-encoded",
      url: "redis-cluster://cordon:p%40ss%3Aw0rd@10.0.0.1:6379",
      expected: {
        nodes: [{ host: "10.0.0.1", port: 6379 }],
        auth: { username: "cordon", password: "p@ss:w0rd" },
        tls: false,
      },
    },
    {
      name: "a password only, with an unencoded @ and :",
      url: "redis-cluster://:s3cr@t:x@10.0.0.1:6379",
      expected: { nodes: [{ host: "10.0.0.1", port: 6379 }], auth: { password: "s3cr@t:x" }, tls: false },
    },
    {
      name: "TLS",
      url: "rediss-cluster://user:pw@redis.example:6380",
      expected: {
        nodes: [{ host: "redis.example", port: 6380 }],
        auth: { username: "user", password: "pw" },
        tls: true,
      },
    },
    {
      name: "IPv6 in brackets",
      url: "redis-cluster://[::1]:7000,[2001:db8::7]:7001",
      expected: {
        nodes: [
          { host: "::1", port: 7000 },
          { host: "2001:db8::7", port: 7001 },
        ],
        auth: {},
        tls: false,
      },
    },
  ])("reads $name", ({ url, expected }) => {
    expect(parseClusterUrl(url)).toEqual(expected);
  });

  it.each(["redis://127.0.0.1:6379", "rediss://h:1/2", "http://h:1", ""])(
    "leaves %j to the one-Redis client",
    (url) => {
      expect(parseClusterUrl(url)).toBeUndefined();
    },
  );

  const PASSWORD = "hunter2-very-secret";
  it.each([
    { url: "redis-cluster:127.0.0.1:7000", says: /redis-cluster:\/\/\[user:password@\]host:port/ },
    { url: `redis-cluster://u:${PASSWORD}@`, says: /at least one node/ },
    { url: `redis-cluster://u:${PASSWORD}@h:7000/0`, says: /no path/ },
    { url: `redis-cluster://u:${PASSWORD}@h:7000?tls=1`, says: /no path, query/ },
    { url: `redis-cluster://u:${PASSWORD}@h:7000,h`, says: /node 2 .*"h".* not host:port/ },
    { url: `redis-cluster://u:${PASSWORD}@h:7000,,h:7001`, says: /node 2 .*""/ },
    { url: `redis-cluster://u:${PASSWORD}@h:0`, says: /node 1 .*port 1-65535/ },
    { url: `redis-cluster://u:${PASSWORD}@h:65536`, says: /node 1/ },
    { url: `redis-cluster://u:${PASSWORD}@[::1:7000`, says: /node 1/ },
    { url: `redis-cluster://u:${PASSWORD}%zz@h:7000`, says: /not percent-encoded/ },
    { url: `rediss-cluster://u:${PASSWORD}@h:x`, says: /node 1/ },
  ])("refuses $url, saying what is wrong without the password", ({ url, says }) => {
    let error: unknown;
    try {
      parseClusterUrl(url);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toMatch(says);
    expect((error as Error).message).not.toContain(PASSWORD);
    expect((error as Error).message).not.toContain("hunter2");
  });
});
