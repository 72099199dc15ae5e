// Parses custom billing-rule SQL in a child process (see sql-parser.ts): node-sql-parser backtracks
// exponentially on some short inputs, so a parse must be stoppable without stopping the server, and a parse that
// exhausts memory must take only this process down (a worker thread's out-of-memory can abort the whole server).
import process from 'node:process';
import sqlParser from 'node-sql-parser';

const parser = new sqlParser.Parser();
process.send({ ready: true }); // loading the grammar takes a while; the time limit starts after it

process.on('message', (sql) => {
  try {
    process.send({ ast: parser.astify(sql, { database: 'PostgresQL' }) });
  } catch (e) {
    // A RangeError is the parser running out of stack or memory, not a message about the SQL.
    process.send(e instanceof RangeError ? { tooComplex: true } : { syntax: String(e?.message ?? e) });
  }
});
process.on('disconnect', () => process.exit(0)); // the server went away
