// Starts esdb-devnode for one test file: a fresh database in a temp dir, a free gRPC port and an
// HTTP port picked by the node. Readiness is the node's own "listening on" lines on stdout.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
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

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Resolves to { grpcPort, httpPort, connect(scheme), stop() } once the node serves both ports.
export async function startDevnode({ timeoutMs = 30000 } = {}) {
  const binary = join(buildDir(), "bin", "esdb-devnode");
  if (!existsSync(binary)) throw new Error(`${binary} does not exist: build esdb-devnode first`);
  const dataDir = mkdtempSync(join(tmpdir(), "esdb-compat-"));
  const requestedGrpcPort = await freePort();
  const child = spawn(binary, [
    "--db", join(dataDir, "devnode.db"),
    "--http-port", "0",
    "--grpc-port", String(requestedGrpcPort),
    "--log-level", "warn",
    "--insecure",
  ], { stdio: ["ignore", "pipe", "pipe"] });

  let stderr = "";
  child.stderr.on("data", (chunk) => { stderr += chunk; });

  const ports = await new Promise((resolve, reject) => {
    let stdout = "";
    const found = {};
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`esdb-devnode not ready after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`esdb-devnode exited early (${code ?? signal})\nstdout: ${stdout}\nstderr: ${stderr}`));
    });
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      for (const m of stdout.matchAll(/listening on (grpc|http):\/\/[^:\s]+:(\d+)/g)) {
        found[m[1]] = Number(m[2]);
      }
      if (found.grpc && found.http) {
        clearTimeout(timer);
        child.removeAllListeners("exit");
        resolve(found);
      }
    });
  });
  if (ports.grpc !== requestedGrpcPort) {
    child.kill("SIGKILL");
    throw new Error(`esdb-devnode listens for gRPC on ${ports.grpc}, asked for ${requestedGrpcPort}`);
  }

  const exited = new Promise((resolve) => child.on("exit", resolve));
  return {
    grpcPort: ports.grpc,
    httpPort: ports.http,
    dataDir,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
