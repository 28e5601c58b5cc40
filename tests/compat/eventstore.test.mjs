// The older official client, @eventstore/db-client 6.x.
import * as lib from "@eventstore/db-client";

import { clientSuite } from "./client_suite.mjs";

clientSuite("eventstore-db-client", {
  lib,
  // tls: null (an --insecure node) or { caFile, user, password } (TLS with that CA).
  connect: (port, tls) => {
    if (!tls) return lib.EventStoreDBClient.connectionString`esdb://127.0.0.1:${port}?tls=false`;
    const credentials = tls.user ? `${tls.user}:${tls.password}@` : "";
    return lib.EventStoreDBClient.connectionString(
      `esdb://${credentials}127.0.0.1:${port}?tls=true&tlsCAFile=${encodeURIComponent(tls.caFile)}`);
  },
  appendExpect: (state) => ({ expectedRevision: state }),
  deleteExpect: (state) => ({ expectedRevision: state }),
  emitsCaughtUp: false,
});
