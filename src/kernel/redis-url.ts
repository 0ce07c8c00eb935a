/**
 * The Redis Cluster form of a Redis URL: `redis-cluster://[user:password@]host:port[,host:port...]`
 * (`rediss-cluster://` for TLS), a few of the cluster's nodes from which a client learns the rest. Pure,
 * so the configuration can check it at start and the Node client can build from it.
 * Errors name what is wrong and never echo the credentials.
 */

export interface ClusterUrl {
  nodes: { host: string; port: number }[];
  auth: { username?: string; password?: string };
  tls: boolean;
}

const FORM = "redis-cluster://[user:password@]host:port[,host:port...]";

/** The nodes of a `redis-cluster://` (or `rediss-cluster://`) URL; undefined for any other URL. */
export function parseClusterUrl(url: string): ClusterUrl | undefined {
  const scheme = /^(rediss?)-cluster:\/\//.exec(url);
  if (!scheme) {
    if (/^rediss?-cluster:/.test(url)) throw new RangeError(`a Redis Cluster is named as ${FORM}`);
    return undefined;
  }
  const rest = url.slice(scheme[0].length);
  // Credentials end at the last "@" (host lists hold none), so a password may contain "@" unencoded.
  const at = rest.lastIndexOf("@");
  const userinfo = at < 0 ? undefined : rest.slice(0, at);
  const hosts = (at < 0 ? rest : rest.slice(at + 1)).replace(/\/$/, "");
  if (/[/?#]/.test(hosts)) {
    throw new RangeError(`a Redis Cluster URL has no path, query or fragment: ${FORM}`);
  }
  if (hosts === "") throw new RangeError(`a Redis Cluster URL names at least one node: ${FORM}`);
  const nodes = hosts.split(",").map((hostPort, i) => {
    const node = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):(\d{1,5})$/.exec(hostPort.trim());
    const port = Number(node?.[2]);
    if (!node || port < 1 || port > 65535) {
      // The node's text holds no credentials (they end at the last "@"), so it may be shown.
      throw new RangeError(
        `node ${i + 1} of the Redis Cluster URL, "${hostPort}", is not host:port (port 1-65535)`,
      );
    }
    return { host: (node[1] as string).replace(/^\[|\]$/g, ""), port };
  });
  const auth: ClusterUrl["auth"] = {};
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(":");
    try {
      const user = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon));
      if (user !== "") auth.username = user;
      if (colon >= 0) auth.password = decodeURIComponent(userinfo.slice(colon + 1));
    } catch {
      throw new RangeError("the user or password of the Redis Cluster URL is not percent-encoded correctly");
    }
  }
  return { nodes, auth, tls: scheme[1] === "rediss" };
}
