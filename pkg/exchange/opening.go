// What a connection is, decided at its first bytes.
package exchange

import (
	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/httpparse"
)

// opening looks at the first record of a connection seen from its start,
// in either direction, until it can tell what the connection is. One that
// opens with the HTTP/2 preface (or a server's SETTINGS frame) is read as
// HTTP/2. One whose first bytes cannot open an HTTP/1 message (a database
// protocol, D-Bus, TLS) is muted and opening reports true: its parsers stop, and the kernel
// side is told to send nothing more of it (its transfers are still counted,
// as not_http). An adopted connection may start anywhere in a message; it
// is never muted.
func (c *conn) opening(d *event.Data) (muted bool) {
	if d.Pos != 0 || d.CapturedOff != 0 || d.Unseen != 0 || c.adopted {
		c.opened = true
		return false
	}
	switch httpparse.OpeningOf(d.Captured) {
	case httpparse.OpeningNotHTTP:
		c.t.stats.NotHTTP++
		c.mute()
		return true
	case httpparse.OpeningHTTP2:
		c.t.stats.ConnsHTTP2++
		c.opened = true
		c.useHTTP2(http2Client(d), true)
		return false
	case httpparse.OpeningHTTP:
		c.opened = true
	}
	// Too few bytes to tell: the next record is not at the start, and the
	// connection is taken for HTTP.
	return false
}

// mute stops a connection that is not HTTP.
func (c *conn) mute() {
	c.opened = true
	c.stopParsing()
	if c.t.hint != nil {
		c.gaveSkips = true
		for i := range c.dirs {
			c.t.hint(c.id, c.gen, event.Direction(i), event.SkipAll)
		}
	}
}
