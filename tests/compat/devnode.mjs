// Starts esdb-devnode for one test file: a fresh database in a temp dir, a free gRPC port and an
// HTTP port picked by the node. Readiness is the node's own "listening on" lines on stdout.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

// The compatibility tests need the npm packages: missing ones are an error, never a skip.
export function requireNodeModules() {
  for (const pkg of ["@kurrent/kurrentdb-client", "@eventstore/db-client"]) {
    if (!existsSync(join(here, "node_modules", pkg, "package.json"))) {
      throw new Error(
        `tests/compat/node_modules lacks ${pkg}: run ./dev deps (or npm ci in tests/compat) first`);
    }
  }
}

export function buildDir() {
  const dir = process.env.ESDB_BUILD_DIR;
  if (!dir) throw new Error("ESDB_BUILD_DIR is not set (the CMake build directory)");
  return dir;
}

function openssl(args) {
  const run = spawnSync("openssl", args, { encoding: "utf8" });
  if (run.error) throw new Error(`openssl: ${run.error.message}`);
  if (run.status !== 0) throw new Error(`openssl ${args.join(" ")} failed:\n${run.stdout}${run.stderr}`);
}

// A throw-away CA and a certificate for 127.0.0.1 signed by it, in `dir`; the CA's path.
export function makeTestCerts(dir) {
  const p = (name) => join(dir, name);
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "3",
           "-subj", "/CN=esdb-connectors compat CA",
           "-addext", "basicConstraints=critical,CA:TRUE",
           "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", p("node.key"), "-out", p("node.csr"), "-subj", "/CN=esdb-devnode"]);
  writeFileSync(p("node.ext"), "basicConstraints=critical,CA:FALSE\n" +
    "keyUsage=critical,digitalSignature,keyEncipherment\n" +
    "extendedKeyUsage=serverAuth,clientAuth\n" +
    "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  openssl(["x509", "-req", "-in", p("node.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"),
           "-CAcreateserial", "-days", "3", "-out", p("node.crt"), "-extfile", p("node.ext")]);
  return { caFile: p("ca.crt"), certFile: p("node.crt"), keyFile: p("node.key") };
}

// Resolves to { grpcPort, httpPort, dataDir, caFile, stop() } once the node serves both ports.
// `secure`: TLS with a CA made for this node (caFile) and the default users (admin/changeit,
// ops/changeit); otherwise --insecure (plain, no credentials needed). `extraArgs` go to the node
// as they are (e.g. --users-file).
export async function startDevnode({ timeoutMs = 30000, secure = false, extraArgs = [] } = {}) {
  const binary = join(buildDir(), "bin", "esdb-devnode");
  if (!existsSync(binary)) throw new Error(`${binary} does not exist: build esdb-devnode first`);
  const dataDir = mkdtempSync(join(tmpdir(), "esdb-compat-"));
  let security = ["--insecure"];
  let caFile;
  if (secure) {
    const certs = makeTestCerts(dataDir);
    caFile = certs.caFile;
    security = ["--tls-cert-file", certs.certFile, "--tls-key-file", certs.keyFile,
                "--tls-ca-file", certs.caFile];
  }
  const child = spawn(binary, [
    "--db", join(dataDir, "devnode.db"),
    "--sink-files-root", dataDir,
    "--http-port", "0",
    // Both ports are the node's pick, read from what it prints: a port picked here and closed
    // again could be taken by a parallel test before the node binds it.
    "--grpc-port", "0",
    "--log-level", "warn",
    ...security,
    ...extraArgs,
  ], { stdio: ["ignore", "pipe", "pipe"] });

  let stderr = "";
  child.stderr.on("data", (chunk) => { stderr += chunk; });

  const ports = await new Promise((resolve, reject) => {
    let stdout = "";
    const found = {};
    let ready = false;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`esdb-devnode not ready after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`esdb-devnode exited early (${code ?? signal})\nstdout: ${stdout}\nstderr: ${stderr}`));
    });
    child.stdout.on("data", (chunk) => {
      // Whatever the node prints once it is ready (a sink's log lines) is read and dropped: the
      // exit listener of stop() must not be removed again.
      if (ready) return;
      stdout += chunk;
      // A secure node says grpcs:// and https://.
      for (const m of stdout.matchAll(/listening on (grpc|http)s?:\/\/[^:\s]+:(\d+)/g)) {
        found[m[1]] = Number(m[2]);
      }
      if (found.grpc && found.http) {
        ready = true;
        clearTimeout(timer);
        child.removeAllListeners("exit");
        resolve(found);
      }
    });
  });

  const exited = new Promise((resolve) => child.on("exit", resolve));
  return {
    grpcPort: ports.grpc,
    httpPort: ports.http,
    dataDir,
    caFile,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
