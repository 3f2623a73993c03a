// Preloaded into `fun` by the deploy tests (NODE_OPTIONS=--require): refuse every outgoing connection and record it
// in $NETGUARD_LOG, so a test can prove `fun validate` ran offline.
'use strict';
const fs = require('fs');
const net = require('net');
const dns = require('dns');

function record(what) {
  if (process.env.NETGUARD_LOG) {
    fs.appendFileSync(process.env.NETGUARD_LOG, what + '\n');
  }
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const target = args[0];
  if (target && typeof target === 'object' && target.path) {
    return connect.apply(this, args); // local IPC sockets are not network access
  }
  record('connect ' + JSON.stringify(target));
  const error = new Error('network access blocked by netguard');
  process.nextTick(() => this.destroy(error));
  return this;
};
const lookup = dns.lookup;
dns.lookup = function (hostname, ...rest) {
  record('dns ' + hostname);
  const callback = rest[rest.length - 1];
  const error = new Error('dns blocked by netguard: ' + hostname);
  error.code = 'ENOTFOUND';
  if (typeof callback === 'function') {
    process.nextTick(() => callback(error));
    return undefined;
  }
  return lookup.call(this, hostname, ...rest);
};
