// `npm ci` / `npm install` (preinstall): warn, never fail, when this Node is older than
// package.json's engines.node. Plain CommonJS so that any Node can run it.
const { engines } = require('../../package.json');
const want = /(\d+)\.(\d+)/.exec(engines.node);
const [major, minor] = process.versions.node.split('.').map(Number);
if (want && (major < Number(want[1]) || (major === Number(want[1]) && minor < Number(want[2])))) {
  process.stderr.write(
    `\ninterlink: this is Node ${process.version}; interlink needs Node ${engines.node}.\n` +
      '  `npm run up`, `npm test` and the other npm scripts fetch Node 24 themselves (scripts/node/with-node.sh).\n' +
      '  To run node or npx by hand:  export PATH="$(bash scripts/node/ensure-node.sh):$PATH"\n\n',
  );
}
