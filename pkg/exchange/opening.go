// What a connection is, decided at its first bytes.
package exchange

import (
	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/http2"
	"github.com/httptrace/httptrace/pkg/httpparse"
)

// opening looks at the first record of a connection seen from its start,
// in either direction, until it can tell what the connection is. One that
// opens with the HTTP/2 preface (or a server's SETTINGS frame) is read as
// HTTP/2, and so is one picked up mid-way whose first record begins with
// HTTP/2 frames (http2.LooksLikeFrames). One whose first bytes cannot open an HTTP/1 message (a database
// protocol, D-Bus, TLS) is muted and opening reports true: its parsers stop, and the kernel
// side is told to send nothing more of it (its transfers are still counted,
// as not_http). An adopted connection may start anywhere in a message; it
// is never muted.
func (c *conn) opening(d *event.Data) (muted bool) {
	b := d.Captured
	switch held := c.first[d.Dir]; {
	case len(held) > 0 && d.Pos == uint64(len(held)) && d.CapturedOff == 0 && d.Unseen == 0:
		// The rest of an opening a first read or write left short (Go's
		// server reads the preface's first 14 bytes, then the rest).
		b = append(held, b...)
	case d.Pos != 0 || d.CapturedOff != 0 || d.Unseen != 0 || c.adopted:
		c.opened = true
		if c.adopted && d.CapturedOff == 0 && http2.LooksLikeFrames(b) {
			// HTTP/2 picked up mid-way: its HPACK tables are not known.
			c.t.stats.ConnsHTTP2++
			c.useHTTP2(clientDir(c.side), false)
			c.decide(c.h2)
			return false
		}
		c.decide(http1{})
		return false
	}
	switch httpparse.OpeningOf(b) {
	case httpparse.OpeningNotHTTP:
		c.t.stats.NotHTTP++
		c.mute()
		return true
	case httpparse.OpeningHTTP2:
		c.t.stats.ConnsHTTP2++
		c.opened = true
		c.useHTTP2(http2Client(d.Dir, b), true)
		c.decide(c.h2)
		return false
	case httpparse.OpeningHTTP:
		c.opened = true
		c.decide(http1{})
		return false
	}
	// Too few bytes to tell: they are held, apart from any protocol, and
	// the next record of the same direction, if it follows them, decides;
	// any other is not at the start, and the connection is taken for HTTP.
	if len(b) > maxOpeningBytes || uint64(len(b)) != d.Pos+uint64(d.Bytes) {
		c.opened = true
		c.decide(http1{})
		return false
	}
	c.first[d.Dir] = append(c.first[d.Dir][:0], b...)
	c.proto = undecided{}
	return false
}

// decide makes p the connection's protocol and gives it the bytes held
// while the opening was too short to tell.
func (c *conn) decide(p protocol) {
	c.proto = p
	for i := range c.first {
		if held := c.first[i]; len(held) > 0 {
			c.first[i] = held[:0]
			p.data(&c.dirs[i], held)
		}
	}
}

// undecided is a connection whose first bytes were too few to tell what it
// is: they are held (conn.first), and its stream's bytes are not parsed.
type undecided struct{}

func (undecided) data(*dir, []byte)            {}
func (undecided) missing(*dir, uint64, bool)   {}
func (undecided) hint(*dir)                    {}
func (undecided) close(c *conn, order [2]*dir) { c.decide(http1{}); c.proto.close(c, order) }

// maxOpeningBytes bounds what is kept of an opening too short to tell.
const maxOpeningBytes = 64

// mute stops a connection that is not HTTP.
func (c *conn) mute() {
	c.opened = true
	c.stopParsing()
	if c.t.muteHint != nil {
		c.gaveSkips = true
		c.t.muteHint(c.id, c.gen)
	}
}
