// node-smtp-peer: the Node side of the TLS comparisons and interop tests,
// on nodemailer's smtp-server and nodemailer (npm packages, installed
// outside the tree: NODE_PATH or LIBSMTP_NODE_MODULES names the
// node_modules folder; bench/run-tls-peers and scripts/test install them
// into /var/tmp/libsmtp-node).
//
//   node node-smtp-peer.js server CERT KEY [DIR]
//       smtp-server on 127.0.0.1:0 offering STARTTLS with the given pair;
//       prints "node-smtp-peer: listening on 127.0.0.1:PORT" on stderr;
//       each message is read and discarded, or stored as DIR/<n>.eml with
//       "X-TLS: <version> <cipher>" and the envelope prepended.
//   node node-smtp-peer.js send HOST PORT FROM TO MSGFILE [CA]
//       nodemailer: STARTTLS required (verified against CA when given,
//       else not verified), one message given as raw RFC 5322 text;
//       prints "tls=<version> cipher=<name> response=<server reply>".
'use strict';
const fs = require('fs');
const path = require('path');
const mods = process.env.LIBSMTP_NODE_MODULES || '/var/tmp/libsmtp-node/node_modules';
function need(name) {
  try {
    return require(name);
  } catch (e) {
    return require(path.join(mods, name));
  }
}

function server(cert, key, dir) {
  const { SMTPServer } = need('smtp-server');
  let n = 0;
  const srv = new SMTPServer({
    secure: false,
    key: fs.readFileSync(key),
    cert: fs.readFileSync(cert),
    name: 'node-smtp.test',
    authOptional: true,
    disabledCommands: ['AUTH'],
    size: 64 * 1024 * 1024,
    maxClients: 10000,
    logger: false,
    onData(stream, session, callback) {
      if (!dir) {
        stream.on('end', () => callback());
        stream.resume();
        return;
      }
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        // getCipher() of the upgraded socket: its version is the protocol
        // version of the suite (TLSv1.3 suites exist only in TLS 1.3)
        const s = session.secure && session.tlsOptions ? session.tlsOptions : null;
        const ver = (s && s.version) || 'none';
        const head = 'X-TLS: ' + ver + ' ' + ((s && (s.standardName || s.name)) || '') + '\r\n' +
          'X-Envelope: ' + session.envelope.mailFrom.address + ' -> ' +
          session.envelope.rcptTo.map((r) => r.address).join(',') + '\r\n';
        n += 1;
        const tmp = path.join(dir, '.' + n + '.tmp');
        fs.writeFileSync(tmp, Buffer.concat([Buffer.from(head), ...chunks]));
        fs.renameSync(tmp, path.join(dir, n + '.eml'));
        callback();
      });
    },
  });
  srv.on('error', (e) => process.stderr.write('node-smtp-peer: ' + e.message + '\n'));
  srv.listen(0, '127.0.0.1', () => {
    const a = srv.server.address();
    process.stderr.write('node-smtp-peer: listening on ' + a.address + ':' + a.port + '\n');
  });
  process.on('SIGTERM', () => srv.close(() => process.exit(0)));
}

function send(host, port, from, to, file, ca) {
  const nodemailer = need('nodemailer');
  const tlsOpts = ca ? { ca: fs.readFileSync(ca), servername: 'localhost' } : { rejectUnauthorized: false };
  const t = nodemailer.createTransport({
    host, port: Number(port), secure: false, requireTLS: true, ignoreTLS: false,
    name: 'nodemailer.test', tls: tlsOpts, connectionTimeout: 20000, greetingTimeout: 20000,
  });
  let info = '';
  t.on('error', () => {});
  // the socket's TLS parameters, read when nodemailer upgrades it
  const tls = require('tls');
  const orig = tls.connect;
  tls.connect = function (...args) {
    const s = orig.apply(this, args);
    s.once('secureConnect', () => {
      const c = s.getCipher();
      info = 'tls=' + s.getProtocol() + ' cipher=' + (c ? c.standardName || c.name : '');
    });
    return s;
  };
  t.sendMail({ envelope: { from, to: to.split(',') }, raw: fs.readFileSync(file) }, (err, res) => {
    if (err) {
      process.stderr.write('node-smtp-peer: ' + err.message + '\n');
      process.exit(1);
    }
    process.stdout.write(info + ' response=' + JSON.stringify(res.response) + '\n');
    process.exit(0);
  });
}

const a = process.argv.slice(2);
if (a[0] === 'server' && a.length >= 3) server(a[1], a[2], a[3]);
else if (a[0] === 'send' && a.length >= 6) send(a[1], a[2], a[3], a[4], a[5], a[6]);
else {
  process.stderr.write('usage: node-smtp-peer.js server CERT KEY [DIR] | send HOST PORT FROM TO MSGFILE [CA]\n');
  process.exit(64);
}
