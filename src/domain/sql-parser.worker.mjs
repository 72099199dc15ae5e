// Parses custom billing-rule SQL off the main thread (see sql-parser.ts): node-sql-parser backtracks
// exponentially on some short inputs, so a parse must be stoppable without stopping the server.
import { parentPort } from 'node:worker_threads';
import sqlParser from 'node-sql-parser';

const parser = new sqlParser.Parser();
parentPort.postMessage({ ready: true }); // loading the grammar takes a while; the time limit starts after it

parentPort.on('message', (sql) => {
  try {
    parentPort.postMessage({ ast: parser.astify(sql, { database: 'PostgresQL' }) });
  } catch (e) {
    // A RangeError is the parser running out of stack or memory, not a message about the SQL.
    parentPort.postMessage(e instanceof RangeError ? { tooComplex: true } : { syntax: String(e?.message ?? e) });
  }
});
