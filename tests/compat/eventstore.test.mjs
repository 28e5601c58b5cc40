// The older official client, @eventstore/db-client 6.x.
import * as lib from "@eventstore/db-client";

import { clientSuite } from "./client_suite.mjs";

clientSuite("eventstore-db-client", {
  lib,
  connect: (port) => lib.EventStoreDBClient.connectionString`esdb://127.0.0.1:${port}?tls=false`,
  appendExpect: (state) => ({ expectedRevision: state }),
  deleteExpect: (state) => ({ expectedRevision: state }),
  emitsCaughtUp: false,
});
