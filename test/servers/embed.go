// Package servers holds the test servers written in Python and JavaScript,
// embedded so the test binary can write them out wherever it runs.
package servers

import _ "embed"

// PythonServer is python/server.py: http.server with threads and keep-alive.
//
//go:embed python/server.py
var PythonServer string

// ForkServer is python/forkserver.py: a child per connection on fds 0 and 1, bodies sent with sendfile.
//
//go:embed python/forkserver.py
var ForkServer string

// PythonTLSServer is python/tlsserver.py: https, importing ssl only once told to.
//
//go:embed python/tlsserver.py
var PythonTLSServer string

// NodeServer is node/server.js: Node's http module, or https given a certificate and key.
//
//go:embed node/server.js
var NodeServer string

// NodeH2Server is node/h2server.js: Node's http2 module without TLS (h2c).
//
//go:embed node/h2server.js
var NodeH2Server string
