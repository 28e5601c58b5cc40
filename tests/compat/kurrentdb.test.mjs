// The current official client, @kurrent/kurrentdb-client.
import * as lib from "@kurrent/kurrentdb-client";

import { clientSuite } from "./client_suite.mjs";

clientSuite("kurrentdb-client", {
  lib,
  connect: (port) => lib.KurrentDBClient.connectionString`kurrentdb://127.0.0.1:${port}?tls=false`,
  appendExpect: (state) => ({ streamState: state }),
  deleteExpect: (state) => ({ expectedRevision: state }),
  emitsCaughtUp: true,
});
