import { bufferedBytes, nodeConnector } from "./node.ts";
import { ProtocolError } from "./errors.ts";
import { connectorCases } from "./_test_cases.ts";

connectorCases("nodeConnector", nodeConnector, {
  skip: false,
  injection: ProtocolError,
  insecure: true,
  unixTls: true,
  buffered: bufferedBytes,
});
