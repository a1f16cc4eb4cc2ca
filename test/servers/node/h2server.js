// Node.js http2 test server without TLS (h2c, prior knowledge), on
// nghttp2. Prints "listening ADDR"; /status/404/... answers 404,
// /big/... answers 48000 bytes (DATA frames Node writes at once), /trailers/ID
// answers 3000 bytes and an X-Checksum trailer, anything else
// 200 "ok PATH N" where N is how many request header bytes came. Every
// answer carries X-Server-Pid.
const http2 = require('http2');

const srv = http2.createServer({maxHeaderListSize: 1 << 20}, (req, res) => {
  req.resume();
  req.on('end', () => {
    res.setHeader('X-Server-Pid', String(process.pid));
    let n = 0;
    for (const [k, v] of Object.entries(req.headers)) {
      n += k.length + String(v).length;
    }
    if (req.url.startsWith('/status/404/')) {
      res.statusCode = 404;
      res.end('not found\n');
    } else if (req.url.startsWith('/big/')) {
      res.end('b'.repeat(48000));
    } else if (req.url.startsWith('/trailers/')) {
      res.write('t'.repeat(3000));
      res.addTrailers({'x-checksum': 'sum-' + req.url.slice('/trailers/'.length)});
      res.end();
    } else {
      res.setHeader('Content-Type', 'text/plain');
      res.end('ok ' + req.url + ' ' + n + '\n');
    }
  });
});
srv.listen(0, '127.0.0.1', () => {
  console.log('listening 127.0.0.1:' + srv.address().port);
});
