// The current official client, @kurrent/kurrentdb-client.
import * as lib from "@kurrent/kurrentdb-client";

import { clientSuite } from "./client_suite.mjs";

clientSuite("kurrentdb-client", {
  lib,
  // tls: null (an --insecure node) or { caFile, user, password } (TLS with that CA).
  connect: (port, tls) => {
    if (!tls) return lib.KurrentDBClient.connectionString`kurrentdb://127.0.0.1:${port}?tls=false`;
    const credentials = tls.user ? `${tls.user}:${tls.password}@` : "";
    return lib.KurrentDBClient.connectionString(
      `kurrentdb://${credentials}127.0.0.1:${port}?tls=true&tlsCAFile=${encodeURIComponent(tls.caFile)}`);
  },
  appendExpect: (state) => ({ streamState: state }),
  deleteExpect: (state) => ({ expectedRevision: state }),
  emitsCaughtUp: true,
});
