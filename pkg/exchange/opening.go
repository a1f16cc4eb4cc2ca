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
	b := d.Captured
	switch {
	case len(c.first) > 0 && d.Dir == c.firstDir && d.Pos == uint64(len(c.first)) && d.CapturedOff == 0 && d.Unseen == 0:
		// The rest of the opening a first read or write left short (Go's
		// server reads the preface's first 14 bytes, then the rest).
		b = append(c.first, b...)
	case d.Pos != 0 || d.CapturedOff != 0 || d.Unseen != 0 || c.adopted:
		c.opened = true
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
		held, dir := c.first, c.firstDir
		c.first = c.first[:0]
		c.useHTTP2(http2Client(d.Dir, b), true)
		if len(held) > 0 { // already passed on to the HTTP/1 parser: HTTP/2's reader gets them
			c.h2.h.Feed(int(dir), held, c.dirs[dir].cur)
		}
		return false
	case httpparse.OpeningHTTP:
		c.opened = true
		c.first = c.first[:0]
		return false
	}
	// Too few bytes to tell: they are kept, and the next record of the
	// same direction, if it follows them, decides; any other is not at the
	// start, and the connection is taken for HTTP.
	if len(b) > maxOpeningBytes || uint32(len(b)) != d.Bytes+uint32(d.Pos) {
		c.opened = true
		c.first = c.first[:0]
		return false
	}
	c.first, c.firstDir = append(c.first[:0], b...), d.Dir
	return false
}

// maxOpeningBytes bounds what is kept of an opening too short to tell.
const maxOpeningBytes = 64

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
