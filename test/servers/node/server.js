// Node.js http test server (libuv reads with read(2), writes with writev),
// or https with the certificate and key files given as arguments.
// Prints "listening ADDR"; /status/N/... answers N, /chunked/... answers in
// chunks, anything else 200 "ok PATH". Every answer carries X-Server-Pid.
const http = require('http');
const https = require('https');
const fs = require('fs');

const handler = (req, res) => {
  req.resume();
  req.on('end', () => {
    res.setHeader('X-Server-Pid', String(process.pid));
    const m = req.url.match(/^\/status\/(\d+)\//);
    res.statusCode = m ? Number(m[1]) : 200;
    if (res.statusCode === 204 || res.statusCode === 304) {
      res.end();
    } else if (req.url.startsWith('/chunked/')) {
      res.write('chunk 1\n');
      setTimeout(() => res.end('chunk 2\n'), 5);
    } else {
      res.setHeader('Content-Type', 'text/plain');
      res.end('ok ' + req.url + '\n');
    }
  });
};
const srv = process.argv.length > 3
  ? https.createServer({cert: fs.readFileSync(process.argv[2]), key: fs.readFileSync(process.argv[3])}, handler)
  : http.createServer(handler);
srv.keepAliveTimeout = 30000;
srv.listen(0, '127.0.0.1', () => {
  console.log('listening 127.0.0.1:' + srv.address().port);
});
